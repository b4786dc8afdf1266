/**
 * A site's part in one secure-aggregation round attempt over the transport: turns the wire messages
 * (schemas.ts, secagg*) into calls on `SecAggSite` and its answers back into wire messages. The site's
 * clipped, weighted update stays here; only masked vectors and sealed or revealed shares leave.
 */
import { FedtuneError } from '../errors.ts';
import type {
  SecureAggAdvertise,
  SecureAggInstruction,
  SecureAggKeys,
  SecureAggMasked,
  SecureAggShareKeys,
  SecureAggShares,
  SecureAggUnmask,
  SecureAggUnmaskResponse,
} from '../messages/schemas.ts';
import { clipUpdate } from '../privacy/dp-fedavg.ts';
import { checkDistributedNoise } from './distributed-noise.ts';
import { secAggTopology } from '../privacy/secagg-config.ts';
import type { SecAggConfig } from '../privacy/secagg-messages.ts';
import { SecAggSite, type SecAggSiteInput } from '../privacy/secagg-site.ts';
import type { SecAggPrimitives } from '../privacy/secagg-crypto.ts';
import type { WeightArrays } from '../weights.ts';

/** The phases in which a site sends something (for test hooks that drop a site at a chosen phase). */
export type SecAggSendPhase = 'advertise' | 'share-keys' | 'masked-input' | 'unmask';

/** Uint32 values as little-endian bytes (the wire format of a masked vector, on any platform). */
export function uint32ToBytes(values: Uint32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setUint32(i * 4, values[i], true);
  return out;
}

export function bytesToUint32(bytes: Uint8Array): Uint32Array {
  if (bytes.length % 4 !== 0) throw new FedtuneError('malformed_payload', 'a uint32 vector must have a multiple of 4 bytes');
  const out = new Uint32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/** The protocol configuration both sides derive from the round's instruction. */
export function secAggConfigOf(round: number, instruction: SecureAggInstruction): SecAggConfig {
  return {
    round,
    sites: instruction.sites,
    threshold: instruction.threshold,
    neighbours: instruction.neighbours,
    vectorLength: instruction.vectorLength,
    fixedPoint: instruction.fixedPoint,
  };
}

/**
 * Checks a coordinator's secure-aggregation instruction against what this site knows, before it trains or
 * allocates anything for it: the update length must equal its model's parameter count, the site must be
 * invited, the threshold and neighbourhood must be consistent (secAggTopology), and the fixed-point scale
 * must not exceed the one that keeps the sum of all invited sites inside int32. Throws a FedtuneError.
 */
export function checkSecAggInstruction(instruction: SecureAggInstruction, site: { siteId: string; round: number; parameterCount: number }): void {
  if (instruction.vectorLength !== site.parameterCount) {
    throw new FedtuneError('shape_mismatch', `secure aggregation: the round expects updates of ${instruction.vectorLength} values, this site's model has ${site.parameterCount} parameters`);
  }
  let topology;
  try {
    topology = secAggTopology(secAggConfigOf(site.round, instruction));
  } catch (err) {
    throw new FedtuneError('malformed_payload', `secure aggregation: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!topology.point.has(site.siteId)) throw new FedtuneError('not_selected', `secure aggregation: ${site.siteId} is not among the round's invited sites`);
  const { range, maxTotalWeight, scale } = instruction.fixedPoint;
  const safeScale = (2 ** 31 - 1 - instruction.sites.length) / (Math.max(range, 1) * maxTotalWeight);
  if (scale > safeScale * (1 + 1e-12)) {
    throw new FedtuneError('malformed_payload', `secure aggregation: fixed-point scale ${scale} could overflow the sum of ${instruction.sites.length} sites (at most ${safeScale})`);
  }
  checkDistributedNoise(instruction);
}

/**
 * The site's input: its delta from the global model clipped to the L2 norm `clip`, and its weight
 * (numExamples / denominator, or 1 / denominator when uniform), capped at the fixed-point bound.
 */
export function secAggInputOf(local: WeightArrays, global: WeightArrays, numExamples: number, instruction: SecureAggInstruction): SecAggSiteInput {
  const delta = local.map((a, i) => {
    const g = global[i];
    // A loop, not Float32Array.from with a map function (a callback per element: ~10× the time of the loop).
    const d = new Float32Array(a.length);
    // Stryker disable next-line EqualityOperator: equivalent: a write one past a typed array's end is ignored.
    for (let j = 0; j < a.length; j++) d[j] = a[j] - g[j];
    return d;
  });
  const { update } = clipUpdate(delta, instruction.clip);
  const raw = instruction.weighting === 'uniform' ? 1 / instruction.weightDenominator : numExamples / instruction.weightDenominator;
  return { update, weight: Math.min(raw, instruction.fixedPoint.maxTotalWeight) };
}

export class SecAggParticipant {
  private readonly site: SecAggSite;

  constructor(
    readonly runId: string,
    readonly round: number,
    readonly instruction: SecureAggInstruction,
    readonly siteId: string,
    private readonly input: SecAggSiteInput,
    primitives?: SecAggPrimitives,
  ) {
    this.site = new SecAggSite(siteId, secAggConfigOf(round, instruction), primitives ? { primitives } : {});
  }

  get attempt(): number {
    return this.instruction.attempt;
  }

  /** Whether a coordinator message belongs to this attempt. */
  matches(m: { runId: string; round: number; attempt: number }): boolean {
    return m.runId === this.runId && m.round === this.round && m.attempt === this.instruction.attempt;
  }

  advertise(report: Pick<SecureAggAdvertise, 'numExamples' | 'metrics' | 'durationMs'>): SecureAggAdvertise {
    const m = this.site.advertiseKeys();
    return { ...this.ids(), encryptionPublicKey: m.encryptionPublicKey, maskingPublicKey: m.maskingPublicKey, selfMaskCommitment: m.selfMaskCommitment, ...report };
  }

  shareKeys(keys: SecureAggKeys): SecureAggShareKeys {
    const m = this.site.shareKeys({ round: this.round, keys: keys.keys });
    return { ...this.ids(), shares: m.shares };
  }

  maskInput(delivery: SecureAggShares): SecureAggMasked {
    const m = this.site.maskInput({ round: this.round, participants: delivery.participants, shares: delivery.shares }, this.input);
    return { ...this.ids(), masked: uint32ToBytes(m.masked) };
  }

  unmask(request: SecureAggUnmask): SecureAggUnmaskResponse {
    const m = this.site.unmask({ round: this.round, survivors: request.survivors });
    return { ...this.ids(), selfMaskShares: m.selfMaskShares, maskingKeyShares: m.maskingKeyShares, ...(m.unusable ? { unusable: m.unusable } : {}) };
  }

  /** Coordinates clamped by the fixed-point range (0 when the range covers the clip). */
  get clamped(): number {
    return this.site.clamped;
  }

  /** Coordinates the distributed-DP noise pushed past the int32 range (0 with a fitting scale). */
  get wrapped(): number {
    return this.site.wrapped;
  }

  private ids() {
    return { runId: this.runId, round: this.round, attempt: this.instruction.attempt, siteId: this.siteId };
  }
}
