import type * as tf from '@tensorflow/tfjs';
import { ClusterOptions, readClusterSecret, startClusterNode, type ClusterNodeOptions, type RunConfig } from '@fedtune/coordinator';
import { FedtuneError } from '@fedtune/shared';
import { pct } from '../ui/format.ts';

export interface ClusterNodeCommand {
  redisUrl: string;
  nodeId?: string;
  /** `--cluster-leader-weight`: the leader's share of the sites relative to a follower's (ClusterOptions.leaderWeight). */
  leaderWeight?: number;
  /** `--cluster-secret-file`: read once here, never logged. */
  secretFile?: string;
  config: RunConfig;
  /** The model already loaded for this node's first leadership; later ones load afresh. */
  model: tf.LayersModel;
  loadModel: () => Promise<tf.LayersModel>;
  server: ClusterNodeOptions['server'];
}

/**
 * `fedtune coordinator --cluster URL [--node-id ID]`: one node of a coordinator cluster (docs/cluster.md).
 * Prints one line per cluster happening; exits when the cluster's run ends (0 when it completed).
 */
export async function serveClusterNode(command: ClusterNodeCommand): Promise<void> {
  const parsed = ClusterOptions.safeParse({
    redisUrl: command.redisUrl,
    ...(command.nodeId !== undefined ? { nodeId: command.nodeId } : {}),
    ...(command.leaderWeight !== undefined ? { leaderWeight: command.leaderWeight } : {}),
  });
  if (!parsed.success) {
    command.model.dispose();
    throw new FedtuneError('config', `--cluster/--node-id/--cluster-leader-weight: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  let secret: Uint8Array | undefined;
  try {
    secret = command.secretFile !== undefined ? readClusterSecret(command.secretFile) : undefined;
  } catch (err) {
    command.model.dispose();
    throw err;
  }
  let first: tf.LayersModel | undefined = command.model;
  const node = await startClusterNode({
    cluster: parsed.data,
    server: command.server,
    config: command.config,
    loadModel: async () => {
      const m = first;
      first = undefined;
      return m ?? command.loadModel();
    },
    log: (line) => console.log(line),
    ...(secret ? { secret } : {}),
  }).catch((err) => {
    command.model.dispose();
    throw err;
  });
  console.log(`cluster node ${node.nodeId} listening on ${node.url}; Redis ${parsed.data.redisUrl.replace(/^(rediss?:\/\/)[^@/]*@/, '$1')}; waiting for the leader lease or relaying to the leader`);
  const stop = () => {
    console.log(`node ${node.nodeId} leaving the cluster`);
    void node.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const outcome = await node.done;
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  const report = outcome.report;
  if (report) console.log(`run ${report.runId} ${report.status}: accuracy ${pct(report.pretrained?.accuracy).trim()} → ${pct(report.final?.accuracy).trim()}${report.aborted ? ` (${report.aborted})` : ''}`);
  // Followers linger a moment so the sites they hold receive the run's end before their sockets close.
  await new Promise((r) => setTimeout(r, 1_000));
  await node.close();
  first?.dispose();
  if (outcome.status !== 'complete') process.exitCode = 1;
}
