import type { EngineEvent } from '../engine/round-engine.ts';
import { MetricsRegistry, type Counter, type Gauge, type Histogram } from './registry.ts';

/** Round duration buckets, in seconds: from a loopback simulation to a slow consortium round. */
export const ROUND_DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

/** The coordinator's Prometheus metrics (issue 8), registered in one registry. */
export interface CoordinatorMetrics {
  registry: MetricsRegistry;
  roundsCompleted: Counter;
  roundRetries: Counter;
  updatesAccepted: Counter;
  /** Labels: `code` (the validation code, e.g. `stale_round`, `non_finite`). */
  updatesRejected: Counter;
  /** Selected sites that failed, left or missed the deadline. */
  updatesFailed: Counter;
  roundDuration: Histogram;
  connectedSites: Gauge;
  currentRound: Gauge;
  /** Joined sites the last round did not sample: cooling down after giving no answer (stragglers). */
  sitesSittingOut: Gauge;
  /** Payload bytes received from sites (updates). */
  bytesIn: Counter;
  /** Payload bytes sent to sites (weights, topology). */
  bytesOut: Counter;
}

export function createCoordinatorMetrics(registry = new MetricsRegistry()): CoordinatorMetrics {
  return {
    registry,
    roundsCompleted: registry.counter({ name: 'fedtune_rounds_completed_total', help: 'Rounds completed (aggregated, evaluated and saved).' }),
    roundRetries: registry.counter({ name: 'fedtune_round_retries_total', help: 'Round attempts that missed the quorum and were retried.' }),
    updatesAccepted: registry.counter({ name: 'fedtune_updates_accepted_total', help: 'Site updates that passed validation.' }),
    updatesRejected: registry.counter({ name: 'fedtune_updates_rejected_total', help: 'Site updates refused, by validation code.', labelNames: ['code'] }),
    updatesFailed: registry.counter({ name: 'fedtune_updates_failed_total', help: 'Selected sites that failed, left or missed the deadline.' }),
    roundDuration: registry.histogram({ name: 'fedtune_round_duration_seconds', help: 'Wall time of a completed round, from sampling to the saved model.', buckets: ROUND_DURATION_BUCKETS }),
    connectedSites: registry.gauge({ name: 'fedtune_connected_sites', help: 'Sites currently joined.' }),
    currentRound: registry.gauge({ name: 'fedtune_current_round', help: 'The round in progress (or the last one started).' }),
    sitesSittingOut: registry.gauge({ name: 'fedtune_sites_sitting_out', help: 'Joined sites the last round did not sample: they gave no answer in an earlier round (stragglers cooldown) or are still training a fit the quorum wait cut off.' }),
    bytesIn: registry.counter({ name: 'fedtune_received_bytes_total', help: 'Payload bytes received from sites (model updates).' }),
    bytesOut: registry.counter({ name: 'fedtune_sent_bytes_total', help: 'Payload bytes sent to sites (weights and topology).' }),
  };
}

/**
 * Updates the metrics from one engine event. Wire it into `onEvent`. Accepted and rejected updates are
 * counted when they are validated (`result` events), so a retried attempt's updates count too; bytes and
 * durations when a round ends.
 */
export function recordEngineEvent(m: CoordinatorMetrics, event: EngineEvent): void {
  switch (event.type) {
    case 'site-joined':
      m.connectedSites.inc();
      return;
    case 'site-left':
      m.connectedSites.dec();
      return;
    case 'round-start':
      m.currentRound.set(undefined, event.round);
      return;
    case 'round-retry':
      m.roundRetries.inc();
      return;
    case 'result':
      if (event.accepted) m.updatesAccepted.inc();
      else m.updatesRejected.inc({ code: event.code ?? 'unknown' });
      return;
    case 'round-end':
      m.roundsCompleted.inc();
      m.roundDuration.observe(undefined, event.record.durationMs / 1000);
      m.updatesFailed.inc(undefined, event.record.failed.length);
      m.bytesIn.inc(undefined, event.record.bytesUp);
      m.bytesOut.inc(undefined, event.record.bytesDown);
      m.sitesSittingOut.set(undefined, (event.record.cooling?.count ?? 0) + (event.record.busy?.count ?? 0));
      return;
    default:
      return;
  }
}
