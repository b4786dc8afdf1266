import type { SiteLink } from '@fedtune/shared';
import type { RoundAggregator } from './aggregation/round-aggregator.ts';
import type { EngineEvent } from './engine-types.ts';
import type { RoundCollector } from './round-collector.ts';
import type { RunConfig } from './run-config.ts';
import type { UpdateGuard } from './update-guard.ts';

/** What the round loop hands a RemotePartials when an attempt of a plain (streaming FedAvg) round begins. */
export interface RemotePartialsAttemptStart {
  config: RunConfig;
  round: number;
  attempt: number;
  selected: readonly string[];
  /** The version and encoded bytes of the global weights the sites train from. */
  modelVersion: number;
  weightsBytes: Uint8Array;
  aggregator: RoundAggregator;
  collector: RoundCollector;
  guard: UpdateGuard;
  site(siteId: string): { link: SiteLink; numExamples?: number; termsAccepted: boolean } | undefined;
  emit(event: EngineEvent): void;
}

/** One attempt whose updates other processes fold into partial aggregates. */
export interface RemotePartialsAttempt {
  /**
   * After the collector is done: closes the attempt on the other processes, waits (bounded) for their
   * partials and merges them into the aggregator; the sites whose partial never came or was refused are
   * taken out of the collector's accepted updates and failed (the round record says why).
   */
  close(): Promise<void>;
}

/**
 * Partial aggregates folded elsewhere (a coordinator cluster's followers: cluster/leader-round-partials.ts).
 * The engine stays unaware of the cluster: it offers each plain-FedAvg attempt, and closes it.
 */
export interface RemotePartials {
  /** An attempt begins; undefined when nobody folds for it (every update reaches the engine as before). */
  beginAttempt(start: RemotePartialsAttemptStart): Promise<RemotePartialsAttempt | undefined>;
}
