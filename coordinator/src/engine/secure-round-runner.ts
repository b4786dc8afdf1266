import type { RunContext } from './run-context.ts';
import { FedtuneError, SecAggUnrecoverableError, type SecureAggInstruction } from '@fedtune/shared';
import { RoundCollector } from './round-collector.ts';
import { secAggInstruction, secAggThreshold, SecureAggregationRound, type SecureRoundResult } from './secure-aggregation-round.ts';

/** Why a site is in an attempt's `failed` list when its secure-aggregation secrets could not be recovered. */
export const UNRECOVERABLE_REASON = "its secure-aggregation masks could not be removed from the shares it dealt (unusable or off its commitments): left out of the round's next attempts";

/** Secure aggregation's orchestration for one attempt of a round: its instruction, its phases, and the sites it lost. */
export class SecureRoundRunner {
  constructor(private readonly ctx: RunContext) {}

  /**
   * Secure aggregation for one attempt: the threshold and the instruction sent with 'fit', or why the
   * attempt cannot run (fewer invited sites than the threshold needs).
   */
  prepareSecureRound(round: number, attempt: number, selected: string[]): { round?: SecureAggregationRound; instruction?: SecureAggInstruction; failure?: string } {
    const config = this.ctx.config.secureAggregation!;
    const threshold = secAggThreshold(selected.length, config);
    if (threshold === undefined) {
      return { failure: `quorum not met: secure aggregation needs at least ${Math.max(2, config.threshold ?? 2)} sites, ${selected.length} selected` };
    }
    const cap = this.ctx.config.train.maxExamples ?? Infinity;
    // Weights numExamples / Σ (examples the selected sites announced), so Σw ≤ 1 for honest sites.
    const denominator = Math.max(1, selected.reduce((n, id) => n + Math.min(this.ctx.sites.get(id)?.numExamples ?? 0, cap), 0));
    const lengths = this.ctx.options.model.manifest.map((s) => s.shape.reduce((a, b) => a * b, 1));
    // With DP every site weighs the same (w = 1/m for the m selected sites): one site moves the sum by ≤ C/m.
    const instruction = this.ctx.config.dp
      ? secAggInstruction(attempt, selected, threshold, lengths.reduce((a, b) => a + b, 0), config, selected.length, 'uniform', this.ctx.dpNoise === 'distributed' ? { noiseMultiplier: this.ctx.config.dp.noiseMultiplier } : undefined)
      : secAggInstruction(attempt, selected, threshold, lengths.reduce((a, b) => a + b, 0), config, denominator);
    const secure = new SecureAggregationRound({
      runId: this.ctx.config.runId,
      round,
      instruction,
      lengths,
      firstPhaseTimeoutMs: this.ctx.config.roundTimeoutMs,
      phaseTimeoutMs: config.phaseTimeoutMs ?? this.ctx.config.roundTimeoutMs,
      maxExamples: this.ctx.config.maxExamplesPerSite,
      announced: (siteId) => this.ctx.sites.get(siteId)?.numExamples,
      send: (siteId, event, payload) => {
        const site = this.ctx.sites.get(siteId);
        if (!site || site.link.closed) return false;
        site.link.send(event, payload);
        return true;
      },
    });
    return { round: secure, instruction };
  }

  /** Runs the secure phases of an attempt; a lost quorum or unusable shares become the attempt's failure, never a wrong sum. */
  async runSecureRound(
    secure: SecureAggregationRound | undefined,
    selected: string[],
    collector: RoundCollector,
  ): Promise<{ result?: SecureRoundResult; failure?: string; unrecoverable?: readonly string[]; silent?: string[] }> {
    if (!secure) {
      collector.finish();
      return {};
    }
    this.ctx.secureRound = secure;
    try {
      const result = await secure.run();
      const inSum = new Set(result.survivors);
      const silent: string[] = [];
      for (const id of selected) {
        if (inSum.has(id) || collector.answered.has(id)) continue;
        // Whether it went silent before or after sharing its keys, a phase waited for it until its deadline.
        silent.push(id);
        const dropped = result.dropped.includes(id);
        collector.failed.push({ siteId: id, reason: dropped ? 'dropped after sharing its keys (its masks were removed)' : 'no secure-aggregation message before the phase deadline' });
      }
      return { result, silent };
    } catch (err) {
      // A lost quorum, or revealed shares that do not recombine (inconsistent, or a masking key that is not the one
      // advertised: survivors' data, never checkable one response at a time): this attempt's failure, not the run's.
      if (err instanceof FedtuneError && (err.code === 'quorum_not_met' || err.code === 'malformed_payload')) {
        // Silent: no advertisement at all, or a later phase waited for it until its deadline (it advertised keys, then
        // went quiet: what two throwaway peers did to fail every attempt of a round until they were left out of retries).
        const silent = selected.filter((id) => !collector.answered.has(id) && (!secure.reports.has(id) || secure.silentIn.has(id)));
        for (const id of silent) {
          const phase = secure.silentIn.get(id);
          collector.failed.push({ siteId: id, reason: phase && phase !== 'advertise' ? `no secure-aggregation message in the ${phase} phase before its deadline (after advertising its keys)` : 'no secure-aggregation message before the phase deadline' });
        }
        // Sites whose dealt shares could not be used: the round's next attempts go on without them.
        if (err instanceof SecAggUnrecoverableError) {
          for (const id of err.owners) collector.failed.push({ siteId: id, reason: UNRECOVERABLE_REASON });
          return { failure: err.message, unrecoverable: err.owners, silent };
        }
        return { failure: err.message, silent };
      }
      throw err;
    } finally {
      this.ctx.secureRound = undefined;
      collector.finish();
    }
  }
}
