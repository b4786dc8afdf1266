import type { RemotePartials } from './remote-partials.ts';
import type { FitResultMetrics, SiteDataSummary, Hello, RobustnessReport, RoundRecord, RunReport, ServerTransport, SiteLink, WeightArrays } from '@fedtune/shared';
import type { CoordinatorIdentity } from '../access/coordinator-identity.ts';
import type { ConnectionLimitsInput } from './connection-limits.ts';
import type { GlobalModel } from './global-model.ts';
import type { RunConfig } from './run-config.ts';
import type { HelloVerdict, PlacementVerdict, RefusedConnection } from './site-connections.ts';
import type { TextRobustnessEvaluator } from './text-robustness-evaluator.ts';
import type { TailAverageState } from './tail-average.ts';
import type { UnresponsiveSitesState } from './unresponsive-sites.ts';

/** The round engine's events, checkpoint and options (round-engine.ts re-exports them). */

export type EngineEvent =
  | { type: 'site-joined'; siteId: string; backend: string; runtime: string; numExamples: number }
  | { type: 'site-left'; siteId: string; reason: string }
  /** A site's policy refused the run's terms (reason clipped, one line): it never joined. */
  | { type: 'site-refused'; siteId: string; reason: string }
  | { type: 'waiting'; joined: number; needed: number }
  | { type: 'pretrained'; accuracy: number; loss: number }
  | { type: 'round-start'; round: number; attempt: number; selected: string[] }
  /**
   * A site's update was accepted into the round's aggregate (`accepted: true`, emitted only once that is
   * certain) or refused. Exactly one per update.
   */
  | { type: 'result'; round: number; siteId: string; accepted: boolean; code?: string; reason?: string }
  /** An update passed its checks but waits for the round's adaptive norm bound: a 'result' follows when the round closes. */
  | { type: 'result-held'; round: number; siteId: string; reason: string }
  | { type: 'round-end'; record: RoundRecord }
  | { type: 'round-retry'; round: number; attempt: number; reason: string }
  | { type: 'robustness-start'; round: number; /** What it measures beyond clean accuracy (robustnessParts). */ parts?: string[] }
  /** A non-final round's robustness evaluation finished (it overlapped the next round); the final round's is in its 'round-end' record. */
  | { type: 'robustness-end'; round: number; robustness: RobustnessReport }
  /** The per-site report after the final round (personalisation, per-site robustness) was asked of these sites. */
  | { type: 'site-report-start'; round: number; sites: string[] }
  | { type: 'complete'; report: RunReport }
  /** A site's update arrived (before any check): the SHA-256 of its bytes exactly as received, for the audit log. */
  | { type: 'update-received'; round: number; siteId: string; message: 'fitResult' | 'secaggMasked'; sha256: string; bytes: number; numExamples?: number }
  /** The hash of the run's terms (emitted by whoever publishes them), for the audit log. */
  | { type: 'terms'; sha256: string }
  /** A hello the `authorize` hook refused (not those refused for the rate limit: a flood must not fill the audit log). */
  | { type: 'hello-refused'; siteId: string; code: string; reason: string }
  /** A joined site shared its data summary (counts only; docs/data.md#sharing-the-data-summary). */
  | { type: 'data-summary'; siteId: string; summary: Omit<SiteDataSummary, 'runId' | 'siteId'> }
  | ({ type: 'connection-refused' } & RefusedConnection);

/** Everything the engine needs to continue a run after the last completed round. */
export interface EngineCheckpoint {
  round: number;
  weights: WeightArrays;
  strategyState: unknown;
  report: RunReport;
  /** DP state: the accountant's history and the current clip. */
  privacy?: { accountant: unknown; clip: number };
  /** The final model's average so far, inside the `averageRounds` window (tail-average.ts). */
  averaging?: TailAverageState;
  /** Sites cooling down after giving no answer, and their misses in a row (unresponsive-sites.ts). */
  stragglers?: UnresponsiveSitesState;
}

export interface RoundEngineOptions {
  transport: ServerTransport;
  model: GlobalModel;
  config: RunConfig;
  backend: string;
  /** Called after every round with the report so far; awaited (e.g. writes report.json). */
  persist?: (report: RunReport) => Promise<void> | void;
  onEvent?: (event: EngineEvent) => void;
  /** Continue a run from a checkpoint: rounds up to `state.round` are done. */
  resume?: EngineCheckpoint;
  /** Called after every completed round with everything needed to resume; awaited (e.g. writes a checkpoint). */
  checkpoint?: (state: EngineCheckpoint) => Promise<void> | void;
  /** Extra top-level sections for the report (e.g. `simulation`). */
  reportExtras?: { simulation?: Record<string, unknown> };
  /** Text robustness of the final global model (a text task's holdout texts; evaluate-text-robustness.ts): the report's `textRobustness`. */
  textRobustness?: TextRobustnessEvaluator;
  /**
   * Decides whether a hello may join (site tokens: coordinator/src/access). Default: everyone. A refusal
   * may carry the code and reason sent to the site.
   */
  authorize?: (hello: Hello, link: SiteLink) => HelloVerdict;
  /** Whether an authorized hello joins through the node it reached (a coordinator cluster: cluster/site-placement.ts); default: always. */
  placeSite?: (hello: Hello, link: SiteLink) => PlacementVerdict;
  /** Refusal limits and the heartbeat timeout of site connections (defaults: connection-limits.ts). */
  connectionLimits?: ConnectionLimitsInput;
  /** Signs the run's terms (coordinator-identity.ts); default a fresh identity held in memory. */
  identity?: CoordinatorIdentity;
  /** Called with each completed round and its global weights before they are checkpointed and sent to sites; awaited (the audit log). */
  roundSaved?: (record: RoundRecord, weights: WeightArrays) => Promise<void> | void;
  /** Partial aggregates folded by other processes (a cluster's followers) for plain-FedAvg rounds (remote-partials.ts). */
  remotePartials?: RemotePartials;
}
