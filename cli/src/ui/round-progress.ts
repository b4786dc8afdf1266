import cliProgress from 'cli-progress';
import type { EngineEvent } from '@fedtune/coordinator';
import { oneLine, type RoundRecord } from '@fedtune/shared';
import { bytes, num, pct } from './format.ts';
import { printRobustness } from './robustness-summary.ts';

/**
 * Live view of a run for the terminal: a progress bar per round (results received / sites selected)
 * and a table row when each round ends. Without a TTY only the table is printed.
 */
/** Beyond this many sites, no line per site (label table, joins and leaves): the output stays readable at 10,000. */
export const MAX_LISTED_SITES = 100;

export class RoundProgress {
  private bar?: cliProgress.SingleBar;
  private received = 0;
  /** Held updates ("round/site") counted on arrival, whose 'result' comes when the round closes. */
  private readonly held = new Set<string>();
  private readonly tty = Boolean(process.stdout.isTTY);
  private headerPrinted = false;
  /** Set when the run is over: sites leaving at shutdown are not news. */
  quiet = false;

  /** Last tenth of the needed sites reported while waiting (large federations: one line per 10%, no line per site). */
  private waitingTenth = -1;

  /** `siteLines`: a line for every site that joins or leaves (false for large federations: see MAX_LISTED_SITES). */
  constructor(
    private readonly rounds: number,
    private readonly siteLines = true,
  ) {}

  private printHeader(): void {
    if (this.headerPrinted) return;
    this.headerPrinted = true;
    console.log('round  accuracy    loss  accepted  rejected  failed   seconds      down        up');
  }

  handle(event: EngineEvent): void {
    if (this.quiet) return;
    switch (event.type) {
      case 'waiting':
        if (!this.siteLines) {
          const tenth = Math.floor((10 * event.joined) / Math.max(1, event.needed));
          if (tenth === this.waitingTenth) break;
          this.waitingTenth = tenth;
        }
        console.log(`waiting for sites: ${event.joined}/${event.needed} joined`);
        break;
      case 'site-joined':
        if (!this.siteLines) break;
        console.log(`site joined: ${event.siteId} (${event.runtime}, ${event.backend}, ${event.numExamples} training examples: its data less its validation and test splits)`);
        break;
      case 'site-left':
        if (!this.siteLines) break;
        console.log(`site left: ${event.siteId} (${oneLine(event.reason)})`);
        break;
      case 'site-refused':
        console.log(`site refused the run's terms: ${event.siteId} (${oneLine(event.reason)})`);
        break;
      case 'pretrained':
        console.log(`pretrained model on the coordinator's holdout: accuracy ${pct(event.accuracy).trim()}, loss ${num(event.loss)}`);
        this.printHeader();
        break;
      case 'round-start':
        this.received = 0;
        if (this.tty) {
          this.bar?.stop();
          this.bar = new cliProgress.SingleBar(
            { format: `round ${event.round}/${this.rounds} [{bar}] {value}/{total} results | {duration}s`, clearOnComplete: true, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          this.bar.start(event.selected.length, 0);
        }
        break;
      case 'result-held':
        this.held.add(`${event.round}/${event.siteId}`);
        this.received++;
        this.bar?.update(this.received);
        break;
      case 'result':
        // A held update was counted when it arrived; its verdict at the round's close is not a new arrival.
        if (!this.held.delete(`${event.round}/${event.siteId}`)) this.received++;
        this.bar?.update(this.received);
        if (!event.accepted) console.log(`  rejected ${event.siteId}: ${oneLine(String(event.code), 64)} — ${oneLine(String(event.reason))}`);
        break;
      case 'round-retry':
        this.bar?.stop();
        console.log(`  round ${event.round} attempt ${event.attempt} failed: ${oneLine(event.reason)}; retrying`);
        break;
      case 'round-end': {
        this.bar?.stop();
        this.bar = undefined;
        const r = event.record;
        this.printHeader();
        console.log(
          `${String(r.round).padStart(5)}  ${pct(r.global.accuracy).padStart(8)}  ${num(r.global.loss).padStart(6)}  ${String(r.accepted.length).padStart(8)}  ${String(r.rejected.length).padStart(8)}  ${String(r.failed.length).padStart(6)}  ${(r.durationMs / 1000).toFixed(1).padStart(8)}  ${bytes(r.bytesDown).padStart(8)}  ${bytes(r.bytesUp).padStart(8)}`,
        );
        if (r.privacy) {
          console.log(`       privacy: ε = ${r.privacy.epsilon === null || !Number.isFinite(r.privacy.epsilon) ? '∞ (no noise)' : r.privacy.epsilon.toFixed(3)} at δ = ${r.privacy.delta} after ${r.privacy.steps} rounds (z = ${r.privacy.noiseMultiplier}, C = ${r.privacy.clip.toPrecision(3)}, ${r.privacy.clippedShare === null ? 'clipped share hidden by secure aggregation' : `${(100 * r.privacy.clippedShare).toFixed(0)}% clipped`}, q = ${r.privacy.samplingRate.toFixed(2)})`);
        }
        const dpSgd = dpSgdEpsilonLine(r);
        if (dpSgd) console.log(dpSgd);
        if (r.cooling) console.log(`       ${r.cooling.count} ${r.cooling.count === 1 ? 'site sat' : 'sites sat'} this round out: no answer in an earlier round (${r.cooling.sites.slice(0, 3).map((id) => oneLine(id, 64)).join(', ')}${r.cooling.count > 3 ? ', …' : ''}; --straggler-cooldown)`);
        if (r.busy) console.log(`       ${r.busy.count} ${r.busy.count === 1 ? 'site sat' : 'sites sat'} this round out: still training a fit the quorum wait cut off (${r.busy.sites.slice(0, 3).map((id) => oneLine(id, 64)).join(', ')}${r.busy.count > 3 ? ', …' : ''}; --wait-after-quorum)`);
        if (r.adoption && !r.adoption.adopted) {
          const last = r.adoption.refusals.at(-1);
          console.log(`       the round kept the previous model: its last attempt's aggregate was not adopted either${last ? ` (${oneLine(last.reason)})` : ''}; the row is the kept model`);
        }
        if (r.averagedRounds) console.log(`       the global model is now the mean of the last ${r.averagedRounds} rounds' models (--average-rounds): the row and all below are its`);
        if (r.robustness) printRobustness(r.robustness);
        if (r.federated) {
          console.log(`       federated evaluation on the sites' test splits: ${pct(r.federated.accuracy).trim()} (worst: ${r.federated.worstSite?.siteId} ${pct(r.federated.worstSite?.accuracy).trim()})`);
        }
        break;
      }
      case 'robustness-start':
        console.log(`       evaluating robustness of the round-${event.round} model${event.parts?.length ? ` (${event.parts.join(', ')})` : ''}…`);
        break;
      case 'robustness-end':
        // A non-final round's robustness evaluation overlaps the next round and ends here.
        console.log(`       robustness of the round-${event.round} model:`);
        printRobustness(event.robustness);
        break;
      case 'complete':
        this.bar?.stop();
        this.quiet = true;
        break;
    }
  }
}

/**
 * The sites' record-level DP-SGD ε after a round (each accepted update's `epsilon`, when the sites train with
 * DP-SGD): the largest with its site, and the median — the numbers report.json has per site. Undefined when none
 * reported one.
 */
export function dpSgdEpsilonLine(r: RoundRecord): string | undefined {
  const reported = r.accepted.filter((a) => a.epsilon !== undefined).map((a) => ({ siteId: a.siteId, epsilon: a.epsilon! }));
  if (reported.length === 0) return undefined;
  const sorted = [...reported].sort((a, b) => a.epsilon - b.epsilon);
  const worst = sorted[sorted.length - 1];
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid].epsilon : (sorted[mid - 1].epsilon + sorted[mid].epsilon) / 2;
  const show = (e: number) => (Number.isFinite(e) ? Number(e.toPrecision(4)).toString() : '∞');
  return `       DP-SGD: the sites' record-level ε so far: largest ${show(worst.epsilon)} (${oneLine(worst.siteId, 64)}), median ${show(median)} over ${reported.length} ${reported.length === 1 ? 'site' : 'sites'} (each site's own δ; report.json lists every site's)`;
}
