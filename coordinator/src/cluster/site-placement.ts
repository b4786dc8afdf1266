import { FedtuneError } from '@fedtune/shared';
import type { PlacementVerdict } from '../engine/site-connections.ts';

/** The sites each live node of a cluster holds now (the joining site counted at its node), and which node leads. */
export interface NodeSiteCounts {
  leader: string;
  /** Live nodes (the leader and the followers heard from within the node timeout) → site connections held. */
  sites: ReadonlyMap<string, number>;
  /**
   * Sites sent on a moment ago and not yet arrived anywhere: they count in the cluster's total (so a burst of
   * joins does not look like a small cluster and pile the sites sent on onto the last node of their lists).
   */
  pending?: number;
}

/**
 * Where a joining site should be (docs/cluster.md, "Site placement"): each live node's share of the cluster's
 * sites is proportional to its weight — a follower 1, the leader `leaderWeight` (it also merges the partials,
 * evaluates, checkpoints and writes the run's audit log and database for every site, so at equal shares it is
 * the busiest node). A hello at node `at` is sent on (`node_busy`) only when `at` already holds more than its
 * share (rounded up) and another live node holds less than its own: the site tries the next node of its list.
 * Pure: the counts are the leader's (it sees every site of the cluster), the decision is the same everywhere.
 */
export function placeSite(at: string, counts: NodeSiteCounts, leaderWeight: number): PlacementVerdict {
  if (!(leaderWeight >= 0 && leaderWeight <= 1)) throw new FedtuneError('config', `leaderWeight must be in [0, 1], got ${leaderWeight}`);
  const here = counts.sites.get(at);
  // Two nodes or more: at least one follower, so the weights sum to 1 or more.
  if (here === undefined || counts.sites.size < 2) return { ok: true };
  const weightOf = (node: string) => (node === counts.leader ? leaderWeight : 1);
  let total = counts.pending ?? 0;
  let weights = 0;
  for (const [node, n] of counts.sites) {
    total += n;
    weights += weightOf(node);
  }
  const share = (node: string) => (total * weightOf(node)) / weights;
  if (here <= Math.ceil(share(at))) return { ok: true };
  // The shares add up to the total and the counts to at most the total, so a node above its share leaves another
  // (of positive weight) below its own: the one filled least, by count ÷ share, is named.
  let roomAt = at;
  let fill = Infinity;
  for (const [node, n] of counts.sites) {
    const nodeShare = share(node);
    if (
      n / nodeShare < fill &&
      // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: a node at or above its share has a fill ≥ 1, and one below its share (fill < 1) always exists here, so it never wins.
      n < nodeShare
    ) {
      roomAt = node;
      fill = n / nodeShare;
    }
  }
  return { ok: false, reason: `coordinator node ${at} holds ${here} of the cluster's ${Math.round(total)} sites, more than its share of ${Math.ceil(share(at))}: connect to another node of the cluster (node ${roomAt} has room)` };
}
