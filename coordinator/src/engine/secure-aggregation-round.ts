import {
  bytesToUint32,
  dequantize,
  distributedFixedPoint,
  siteNoiseVariance,
  FedtuneError,
  fixedPointConfig,
  secAggPayloadBytes,
  SecAggServer,
  type ClientToServer,
  type DequantizedSum,
  type FitResultMetrics,
  type SecAggAggregate,
  type SecureAggInstruction,
  type ServerToClient,
} from '@fedtune/shared';
import { z } from 'zod';
import { nodeSecAggPrimitives } from '@fedtune/shared/node';
import { claimedExampleCountError } from './claimed-example-count.ts';

/** Secure aggregation of a run (docs/privacy.md, "Secure aggregation in a run"). */
export const SecureAggregationConfig = z.object({
  /** L2 norm every site's delta is clipped to before it is quantized and masked. */
  clip: z.number().positive(),
  /** t: shares needed to unmask; raised to a strict majority of a neighbourhood if lower (default: the majority). */
  threshold: z.number().int().min(2).optional(),
  /** SecAgg+: each site masks with k neighbours on a public random ring (even); omitted, with every site. */
  neighbours: z.number().int().min(2).refine((k) => k % 2 === 0, 'neighbours must be even').optional(),
  /** Fixed-point range R of a delta's coordinates (default: `clip`, which always covers a clipped delta). */
  range: z.number().positive().optional(),
  /** Deadline of each phase after the first (whose deadline is the round timeout, as it includes training). */
  phaseTimeoutMs: z.number().int().min(1).optional(),
});
export type SecureAggregationConfig = z.output<typeof SecureAggregationConfig>;

export type SecAggClientEvent = 'secaggAdvertise' | 'secaggShareKeys' | 'secaggMasked' | 'secaggUnmaskResponse';

/** What a site reports about its training anyway (the same as a plain round's fitResult, minus weights). */
export interface SecAggSiteReport {
  siteId: string;
  numExamples: number;
  metrics: FitResultMetrics;
  durationMs: number;
}

export interface SecureRoundResult extends DequantizedSum, SecAggAggregate {
  reports: Map<string, SecAggSiteReport>;
  bytesUp: number;
  bytesDown: number;
}

export interface SecureRoundOptions {
  runId: string;
  round: number;
  instruction: SecureAggInstruction;
  /** Tensor lengths of the model, in manifest order. */
  lengths: number[];
  /** Deadline of phase 0 (training + key advertisement). */
  firstPhaseTimeoutMs: number;
  phaseTimeoutMs: number;
  /** The run-wide cap on a claimed example count (maxExamplesPerSite). */
  maxExamples: number;
  /** What a site announced at hello: its advertisement may claim no more examples (undefined: not known). */
  announced: (siteId: string) => number | undefined;
  /** Sends a message to a site; false if it is no longer connected. */
  send: <K extends keyof ServerToClient & string>(siteId: string, event: K, payload: ServerToClient[K]) => boolean;
}

/**
 * The effective threshold for `n` invited sites: at least a strict majority of a neighbourhood (what the
 * protocol needs to be private), or `undefined` when the configured t exceeds the neighbourhood.
 */
export function secAggThreshold(n: number, config: SecureAggregationConfig): number | undefined {
  const size = config.neighbours === undefined ? n : Math.min(n, config.neighbours + 1);
  const t = Math.max(config.threshold ?? 0, Math.floor(size / 2) + 1);
  return n >= 2 && t <= size ? t : undefined;
}

/** The instruction sent with 'fit' to the sites of one round attempt. */
export function secAggInstruction(
  attempt: number,
  sites: string[],
  threshold: number,
  vectorLength: number,
  config: SecureAggregationConfig,
  weightDenominator: number,
  /** 'examples': w = numExamples / weightDenominator; 'uniform' (DP): w = 1 / weightDenominator. */
  weighting: SecureAggInstruction['weighting'] = 'examples',
  /** Distributed DP (uniform weighting): each site adds discrete Gaussian noise for multiplier z; the scale leaves room for it. */
  distributedNoise?: { noiseMultiplier: number },
): SecureAggInstruction {
  const range = config.range ?? config.clip;
  const noise = distributedNoise && { noiseMultiplier: distributedNoise.noiseMultiplier, clip: config.clip, threshold, weight: 1 / weightDenominator };
  const fixedPoint = noise
    ? distributedFixedPoint({ range, maxTotalWeight: 1, sites: sites.length, vectorLength, ...noise })
    : fixedPointConfig({ range, maxTotalWeight: 1, sites: sites.length });
  return {
    attempt,
    sites: [...sites].sort(),
    threshold,
    neighbours: config.neighbours,
    vectorLength,
    fixedPoint,
    clip: config.clip,
    weighting,
    weightDenominator,
    ...(noise ? { distributedNoise: { mechanism: 'discrete-gaussian' as const, noiseMultiplier: noise.noiseMultiplier, variance: siteNoiseVariance(noise, fixedPoint.scale) } } : {}),
  };
}

type Phase = 'advertise' | 'share' | 'mask' | 'unmask' | 'done';
const PHASE_OF: Record<SecAggClientEvent, Phase> = {
  secaggAdvertise: 'advertise',
  secaggShareKeys: 'share',
  secaggMasked: 'mask',
  secaggUnmaskResponse: 'unmask',
};

/**
 * The coordinator's side of one secure-aggregation round attempt over the transport: routes the phases of
 * `SecAggServer` as messages, closes each phase when every expected site has answered or left, or at its
 * deadline, and returns the sum of the survivors' quantized weighted deltas, decoded. It never sees a
 * site's update: only masked vectors and shares. A lost quorum throws FedtuneError('quorum_not_met').
 */
export class SecureAggregationRound {
  private readonly server: SecAggServer;
  private phase: Phase = 'advertise';
  private waiting = new Set<string>();
  private readonly gone = new Set<string>();
  private wake?: () => void;
  private aborted?: string;
  readonly reports = new Map<string, SecAggSiteReport>();
  /** Sites a phase waited for until its deadline (still joined, no message), by the first phase they were silent in. */
  readonly silentIn = new Map<string, Phase>();
  bytesUp = 0;
  bytesDown = 0;

  constructor(private readonly o: SecureRoundOptions) {
    this.server = new SecAggServer({
      round: o.round,
      sites: o.instruction.sites,
      threshold: o.instruction.threshold,
      neighbours: o.instruction.neighbours,
      vectorLength: o.instruction.vectorLength,
      fixedPoint: o.instruction.fixedPoint,
      // Stryker disable next-line ObjectLiteral: equivalent: @noble's default primitives give the same bytes (OpenSSL's are only faster).
    }, { primitives: nodeSecAggPrimitives });
  }

  /** Handles a site's secagg message; throws FedtuneError (to reject it) when it does not fit the protocol. */
  receive<K extends SecAggClientEvent>(siteId: string, event: K, payload: ClientToServer[K]): void {
    const p = payload as ClientToServer[SecAggClientEvent];
    if (p.runId !== this.o.runId || p.round !== this.o.round || p.attempt !== this.o.instruction.attempt) {
      throw new FedtuneError('stale_round', `secure aggregation message for round ${p.round} attempt ${p.attempt}; this is round ${this.o.round} attempt ${this.o.instruction.attempt}`);
    }
    if (PHASE_OF[event] !== this.phase) throw new FedtuneError('stale_round', `${event} from ${siteId} arrived in phase ${this.phase}`);
    // A site the attempt dropped (refused, failed, reconnected or gone) stays out of it: its keys must not enter U1 after.
    if (this.gone.has(siteId)) throw new FedtuneError('not_selected', `${siteId} is out of this secure-aggregation attempt`);
    switch (event) {
      case 'secaggAdvertise': {
        const m = payload as ClientToServer['secaggAdvertise'];
        // As a plain round's fitResult (validate-fit-result.ts): refused before its keys enter U1, so the round goes on without it.
        const countError = claimedExampleCountError(siteId, m.numExamples, this.o.maxExamples, this.o.announced(siteId));
        if (countError !== undefined) throw new FedtuneError('invalid_count', countError);
        // Stryker disable next-line StringLiteral: equivalent: SecAggServer takes each kind by its own method and never reads `kind`.
        this.server.receiveAdvertiseKeys({ kind: 'secagg/advertise-keys', round: this.o.round, siteId, encryptionPublicKey: m.encryptionPublicKey, maskingPublicKey: m.maskingPublicKey, selfMaskCommitment: m.selfMaskCommitment });
        this.reports.set(siteId, { siteId, numExamples: m.numExamples, metrics: m.metrics, durationMs: m.durationMs });
        break;
      }
      case 'secaggShareKeys': {
        const m = payload as ClientToServer['secaggShareKeys'];
        // Stryker disable next-line StringLiteral: equivalent: SecAggServer takes each kind by its own method and never reads `kind`.
        this.server.receiveShareKeys({ kind: 'secagg/share-keys', round: this.o.round, siteId, shares: m.shares });
        break;
      }
      case 'secaggMasked': {
        const m = payload as ClientToServer['secaggMasked'];
        // Stryker disable next-line StringLiteral: equivalent: SecAggServer takes each kind by its own method and never reads `kind`.
        this.server.receiveMaskedInput({ kind: 'secagg/masked-input', round: this.o.round, siteId, masked: bytesToUint32(m.masked) });
        break;
      }
      case 'secaggUnmaskResponse': {
        const m = payload as ClientToServer['secaggUnmaskResponse'];
        // Stryker disable next-line StringLiteral: equivalent: SecAggServer takes each kind by its own method and never reads `kind`.
        this.server.receiveUnmaskResponse({ kind: 'secagg/unmask-response', round: this.o.round, siteId, selfMaskShares: m.selfMaskShares, maskingKeyShares: m.maskingKeyShares, unusable: m.unusable });
        break;
      }
    }
    // The bytes of the messages taken only, as a plain round counts its accepted updates.
    this.bytesUp += secAggPayloadBytes(payload);
    this.answered(siteId);
  }

  /** A site left or failed: it is dropped from the current and later phases. */
  drop(siteId: string): void {
    this.gone.add(siteId);
    this.answered(siteId);
  }

  /** Ends the attempt early (the engine is stopping). */
  abort(reason: string): void {
    this.aborted = reason;
    this.wake?.();
  }

  private answered(siteId: string): void {
    this.waiting.delete(siteId);
    if (this.waiting.size === 0) this.wake?.();
  }

  private async collect(expected: Iterable<string>, timeoutMs: number): Promise<void> {
    this.waiting = new Set([...expected].filter((s) => !this.gone.has(s)));
    if (this.waiting.size > 0 && !this.aborted) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          resolve();
        };
        const timer = setTimeout(wake, timeoutMs);
        this.wake = wake;
      });
    }
    if (this.aborted) throw new FedtuneError('quorum_not_met', this.aborted);
    // A site silent in a phase is in no later phase's wait (each phase waits for those that answered the last): set once.
    for (const s of this.waiting) this.silentIn.set(s, this.phase);
  }

  private send<K extends keyof ServerToClient & string>(siteId: string, event: K, payload: ServerToClient[K]): void {
    if (this.gone.has(siteId)) return;
    if (this.o.send(siteId, event, payload)) this.bytesDown += secAggPayloadBytes(payload);
    else this.drop(siteId);
  }

  /** Runs phases 0–3 (the 'fit' instructions must already be sent) and returns the decoded sum. */
  async run(): Promise<SecureRoundResult> {
    const ids = { runId: this.o.runId, round: this.o.round, attempt: this.o.instruction.attempt };
    await this.collect(this.o.instruction.sites, this.o.firstPhaseTimeoutMs);
    this.phase = 'share';
    const directory = this.server.closeAdvertise();
    const u1 = directory.keys.map((k) => k.siteId);
    for (const s of u1) this.send(s, 'secaggKeys', { ...ids, keys: directory.keys });

    await this.collect(u1, this.o.phaseTimeoutMs);
    this.phase = 'mask';
    const deliveries = this.server.closeShareKeys();
    for (const [s, d] of deliveries) this.send(s, 'secaggShares', { ...ids, participants: d.participants, shares: d.shares });

    await this.collect(deliveries.keys(), this.o.phaseTimeoutMs);
    this.phase = 'unmask';
    const request = this.server.closeMaskedInput();
    for (const s of request.survivors) this.send(s, 'secaggUnmask', { ...ids, survivors: request.survivors });

    await this.collect(request.survivors, this.o.phaseTimeoutMs);
    this.phase = 'done';
    const aggregate = this.server.finish();
    return { ...aggregate, ...dequantize(aggregate.sum, this.o.lengths, this.o.instruction.fixedPoint), reports: this.reports, bytesUp: this.bytesUp, bytesDown: this.bytesDown };
  }
}
