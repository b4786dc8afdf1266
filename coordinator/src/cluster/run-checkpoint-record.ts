import { FedtuneError } from '@fedtune/shared';
import type { ClusterRedis } from './redis-connection.ts';

/** Redis key holding `<runId> <round>`: the last round a cluster's leader checkpointed into the shared runs directory. */
export function runCheckpointKey(runKey: string): string {
  return `${runKey}:checkpointed`;
}

/** The leader records each checkpointed round (best effort: during a Redis outage the record lags, never leads). */
export async function recordCheckpointedRound(redis: ClusterRedis, runKey: string, runId: string, round: number): Promise<void> {
  await redis.set(runCheckpointKey(runKey), `${runId} ${round}`);
}

/** The round the cluster last checkpointed for `runId` (0: none recorded, or the record is of another run or unreadable). */
export async function checkpointedRound(redis: ClusterRedis, runKey: string, runId: string): Promise<number> {
  const value = await redis.get(runCheckpointKey(runKey));
  const m = typeof value === 'string' ? /^(\S+) (\d{1,9})$/.exec(value) : null;
  return m && m[1] === runId ? Number(m[2]) : 0;
}

/**
 * A node about to lead `runId` refuses when the cluster checkpointed a later round than this node's runs
 * directory holds: its `--out` is not the directory the other nodes share (or lost files), and leading would
 * start the run over from an older state — new rounds under the run's name, its audit chain forked.
 */
export function checkRunsDirectoryShared(options: { nodeId: string; runId: string; runsDir: string; clusterRound: number; localRound: number | undefined }): void {
  const { nodeId, runId, runsDir, clusterRound, localRound } = options;
  if (clusterRound <= (localRound ?? 0)) return;
  const holds = localRound === undefined ? 'no checkpoint of it' : `only round ${localRound}`;
  throw new FedtuneError(
    'config',
    `node ${nodeId} cannot lead run ${runId}: the cluster checkpointed its round ${clusterRound}, but this node's runs directory (${runsDir}) holds ${holds} — every node of a cluster must share one --out directory (docs/cluster.md)`,
  );
}
