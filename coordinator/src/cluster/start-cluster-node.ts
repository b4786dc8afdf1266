import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { clipText, FedtuneError, modelManifest, type RunReport, type WeightArrays } from '@fedtune/shared';
import { ConnectionLimits } from '../engine/connection-limits.ts';
import type { RunConfig } from '../engine/run-config.ts';
import { CheckpointStore } from '../persistence/checkpoint-store.ts';
import { createCoordinatorServer, parseRunConfig, type CoordinatorServer, type CoordinatorServerOptions } from '../run/coordinator-server.ts';
import type { RunSession } from '../run/start-run.ts';
import { CLUSTER_EVENTS, LeaderMessage, ModelVersionMessage, RunDoneMessage } from './cluster-messages.ts';
import { ClusterModelVersions } from './cluster-model-versions.ts';
import { ClusterOptions, clusterKeys, type ClusterOptionsInput } from './cluster-options.ts';
import { ClusterTransport } from './cluster-transport.ts';
import { authenticateServerSideEmits, ClusterMessageMac } from './cluster-message-mac.ts';
import { checkClusterSecret, markSecretless } from './cluster-secret-check.ts';
import { claimNodeId, type NodeIdClaim } from './node-id-claim.ts';
import { checkpointedRound, checkRunsDirectoryShared, recordCheckpointedRound } from './run-checkpoint-record.ts';
import { LeaderLease } from './leader-lease.ts';
import { connectClusterRedis, redactRedisUrl, type ClusterRedis } from './redis-connection.ts';
import { guardAdapterRedisClient } from './adapter-redis-client.ts';
import { RedisRecoveryReport } from './redis-recovery-report.ts';
import { FollowerPartialRounds } from './follower-partial-rounds.ts';
import { FencingTokens } from './fencing-check.ts';
import { globalWeightsForVersion } from './global-weights-by-version.ts';
import { LeaderRoundPartials } from './leader-round-partials.ts';
import { globalWeightsKey, loadGlobalWeightsForRound, storeGlobalWeightsForRound } from './load-global-weights-for-round.ts';
import { RecentRoundWeights } from './recent-round-weights.ts';
import { PartialMessage, SiteAcceptanceMessage } from './partial-round-messages.ts';
import { SiteAcceptanceBatchMessage } from './record-batch-messages.ts';
import { RemoteSiteLink } from './remote-site-link.ts';
import { RoundCloseMessage, RoundPlanMessage } from './round-plan-messages.ts';
import { EvaluationRequestMessage, EvaluationResultMessage } from './evaluation-messages.ts';
import { FollowerHoldoutEvaluator } from './follower-holdout-evaluator.ts';
import { LeaderDelegatedEvaluation } from './leader-delegated-evaluation.ts';
import { dropEvaluationWeights, loadEvaluationWeights, storeEvaluationWeights } from './evaluation-weights.ts';
import { TfGlobalModel } from '../model/tf-global-model.ts';

export interface ClusterNodeOptions {
  cluster: ClusterOptionsInput;
  /** The server options of this node (the transport is socket.io with the Redis streams adapter). */
  server: Omit<CoordinatorServerOptions, 'transport' | 'wrapTransport' | 'loadModel'>;
  /** The run the cluster drives; the first leader's run id is the cluster's (kept in Redis). */
  config: RunConfig;
  /** A fresh starting model (called each time this node starts leading). */
  loadModel: () => Promise<tf.LayersModel>;
  /** One line per cluster happening (leadership, Redis outages, the run's end). */
  log?: (line: string) => void;
  /**
   * The cluster secret (`--cluster-secret-file`, ≥ 32 bytes; cluster-message-mac.ts): every message between
   * nodes and every model version the leader writes to Redis is authenticated with it. Never logged.
   */
  secret?: Uint8Array;
}

export interface ClusterNodeOutcome {
  runId: string;
  status: string;
  /** The report, on the node that led the run to its end. */
  report?: RunReport;
  /** Which node led the run to its end. */
  leader: string;
}

export interface ClusterNode {
  nodeId: string;
  url: string;
  server: CoordinatorServer;
  transport: ClusterTransport;
  lease: LeaderLease;
  /** The model versions this node serves over HTTP (every node, leader or not: cluster-model-versions.ts). */
  modelVersions: ClusterModelVersions;
  /** Partial aggregates: the leader's side (merged partials, sites left out) and the follower's (updates folded, partials sent). */
  partials: { leader: LeaderRoundPartials; follower: FollowerPartialRounds };
  /** Holdout evaluations on a follower: the leader's side (asked, answered, made itself) and the follower's (evaluated, failed). */
  evaluation: { leader: LeaderDelegatedEvaluation; follower: FollowerHoldoutEvaluator };
  /** The highest leader fencing token this node has seen; `staleIgnored` counts plans and closes of a replaced leader. */
  fence: FencingTokens;
  /** The run this node leads right now, if it leads. */
  readonly session: RunSession | undefined;
  /** Resolves when the cluster's run has ended (on every node). */
  done: Promise<ClusterNodeOutcome>;
  /** Leaves the cluster (gives the lease up if it holds it) and closes the server. */
  close(): Promise<void>;
}

const RUN_ID = /^[A-Za-z0-9._-]{1,128}$/;
/**
 * Agrees on the cluster's run: the first leader's id, kept while that run goes on; once it has ended, a
 * leader started for another run id makes that the cluster's run. Returns the run and the last ended run.
 */
const RUN_SCRIPT = `
local done = redis.call('GET', KEYS[2]) or ''
local run = redis.call('GET', KEYS[1])
if (not run) or (run == done and ARGV[1] ~= done) then redis.call('SET', KEYS[1], ARGV[1]) end
return { redis.call('GET', KEYS[1]), done }`;

/**
 * Starts one coordinator node of a cluster (docs/cluster.md): the HTTP API and socket.io on the Redis
 * streams adapter, a ClusterTransport, and the leader lease. While it holds the lease it runs the round
 * engine (resuming from the shared runs directory's latest checkpoint when one exists); otherwise it
 * relays its sites to the leader.
 */
export async function startClusterNode(options: ClusterNodeOptions): Promise<ClusterNode> {
  const cluster = ClusterOptions.parse(options.cluster);
  const keys = clusterKeys(cluster.prefix);
  const log = options.log ?? (() => {});
  const where = redactRedisUrl(cluster.redisUrl);
  let lease!: LeaderLease;
  // One 'cluster recovered' line per outage, whichever comes first: the connection's return or the leader's renewal.
  const recovery = new RedisRecoveryReport(where, cluster.nodeId, log);
  /** Messages to the other nodes lost while Redis was unreachable (told once per outage). */
  let lostInOutage = 0;
  const redis: ClusterRedis = await connectClusterRedis(cluster.redisUrl, {
    onLost: (reason) => {
      recovery.lost();
      log(`node ${cluster.nodeId}: lost the connection to Redis at ${where} (${reason}); retrying`);
    },
    onRestored: (outageMs) => {
      lostInOutage = 0;
      lease.redisRestored();
      recovery.restored(outageMs, lease.isLeader);
    },
  });
  const mac = options.secret ? new ClusterMessageMac(options.secret, cluster.nodeId, { windowMs: cluster.macWindowMs }) : undefined;
  let nodeIdClaim: NodeIdClaim;
  try {
    await checkClusterSecret(redis, cluster.prefix, mac, where, cluster.nodeTimeoutMs);
    nodeIdClaim = await claimNodeId(redis, cluster.prefix, cluster.nodeId, cluster.nodeTimeoutMs, where, { heartbeatMs: cluster.nodeHeartbeatMs, onWait: log });
  } catch (err) {
    await redis.close().catch(() => redis.destroy());
    throw err;
  }
  if (!mac) options.server.onWarning?.(`node ${cluster.nodeId} clusters without a secret: anyone who can write to Redis can speak for a node (--cluster-secret-file; docs/cluster.md#trust-and-deployment)`);
  // While it runs, a node keeps its id claimed and, without a secret, the cluster marked as secretless (a node with a
  // secret is refused), both lapsing a node timeout after it stops.
  let idTakenSaid = false;
  const claims = setInterval(() => {
    void nodeIdClaim.refresh().then((held) => {
      if (held || idTakenSaid) return;
      idTakenSaid = true;
      options.server.onWarning?.(`node ${cluster.nodeId}: another process now claims this node id in the cluster (after an outage longer than the node timeout?): give each node its own --node-id`);
    }, () => undefined);
    if (!mac) void markSecretless(redis, cluster.prefix, cluster.nodeTimeoutMs).catch(() => undefined);
  }, cluster.nodeHeartbeatMs);
  claims.unref?.();
  const modelVersions = new ClusterModelVersions({ redis, prefix: cluster.prefix, onWarning: options.server.onWarning, mac });
  const limits = ConnectionLimits.parse(options.server.connectionLimits ?? {});
  let transport!: ClusterTransport;
  const server = createCoordinatorServer({
    ...options.server,
    // Sites that offer other nodes are placed by the nodes' shares (site-placement.ts), decided on the leader.
    placeSite: (hello, link) => transport.placeSite(hello, link),
    modelVersions: (version) => modelVersions.get(version),
    transport: 'socket',
    wrapTransport: (inner, io) => {
      // The adapter PUBLISHes server-side emits without handling a failure: during an outage that must not end the node.
      const adapterRedis = guardAdapterRedisClient(redis, (_command, err) => {
        if (++lostInOutage === 1) log(`node ${cluster.nodeId}: messages to the other nodes are lost while Redis is unreachable (${clipText((err as Error)?.message ?? err, 200)})`);
      });
      io.adapter(createAdapter(adapterRedis, { streamName: keys.stream }));
      // Every server-side emit is sealed and opened here (docs/cluster.md#trust-and-deployment).
      if (mac) authenticateServerSideEmits(io.of('/'), mac, (err) => transport.refuse('unauthenticated message', err));
      transport = new ClusterTransport(inner, io, {
        nodeId: cluster.nodeId,
        maxQueuedMessages: limits.maxQueuedMessages,
        maxRefusals: limits.maxRefusals,
        refusalWindowMs: limits.refusalWindowMs,
        maxRemoteSites: cluster.maxRemoteSites,
        nodeHeartbeatMs: cluster.nodeHeartbeatMs,
        nodeTimeoutMs: cluster.nodeTimeoutMs,
        leaderWeight: cluster.leaderWeight,
        onWarning: options.server.onWarning,
        // A follower checks its sites' tokens itself: they never cross Redis (docs/cluster.md#trust-and-deployment).
        ...(options.server.access ? { verifyToken: (siteId: string, token: string | undefined) => options.server.access!.store.verify(siteId, token) } : {}),
      });
      return transport;
    },
  });
  let session: RunSession | undefined;
  let finished = false;
  let resolveDone!: (outcome: ClusterNodeOutcome) => void;
  const done = new Promise<ClusterNodeOutcome>((r) => (resolveDone = r));
  const finish = (outcome: ClusterNodeOutcome) => {
    if (finished) return;
    finished = true;
    resolveDone(outcome);
  };
  const io = server.app!.io as unknown as { on(e: string, l: (raw: unknown) => void): void; serverSideEmit(e: string, p: unknown): void };
  io.on(CLUSTER_EVENTS.runDone, (raw) => {
    const m = RunDoneMessage.safeParse(raw);
    if (!m.success || lease.isLeader) return;
    log(`run ${m.data.runId} ${clipText(m.data.status, 32)} (led by node ${m.data.node})`);
    finish({ runId: m.data.runId, status: m.data.status, leader: m.data.node });
  });

  // Model versions (docs/cluster.md#model-bytes-over-http): a follower reads each announced one once; a new leader's replace the old.
  let highestLeader = 0;
  // The highest leader token seen, for plans and closes (fencing-check.ts): a replaced leader's are ignored.
  const fence = new FencingTokens();
  io.on(CLUSTER_EVENTS.modelVersion, (raw) => {
    const m = ModelVersionMessage.safeParse(raw);
    if (!m.success || lease.isLeader || m.data.node === cluster.nodeId || m.data.token < highestLeader) return;
    modelVersions.announce(m.data.version, m.data.sha256);
  });
  io.on(CLUSTER_EVENTS.leader, (raw) => {
    const m = LeaderMessage.safeParse(raw);
    if (!m.success || m.data.node === cluster.nodeId || m.data.token <= highestLeader) return;
    // A leader that hears of a later one (it stalled past its lease) steps down now, not at its next renewal.
    lease.yieldTo(m.data.token);
    highestLeader = m.data.token;
    fence.observe(m.data.token);
    modelVersions.clear();
    warmEvaluation();
  });

  // Partial aggregates of plain-FedAvg rounds (docs/cluster.md, "Aggregation and privacy").
  // Through the transport: counted, and after the site messages waiting in its outbox (instruction-fanout.ts).
  const emitToNodes = (event: string, payload: unknown) => transport.emitToNodes(event, payload);
  const recentRoundWeights = new RecentRoundWeights();
  const leaderPartials = new LeaderRoundPartials({
    nodeId: cluster.nodeId,
    storeWeights: async (bytes, ttlMs) => {
      const sha256 = await storeGlobalWeightsForRound(redis, cluster.prefix, bytes, ttlMs);
      const stale = recentRoundWeights.add(sha256);
      if (stale.length > 0) void redis.del(stale.map((s) => globalWeightsKey(cluster.prefix, s))).catch(() => undefined);
      return sha256;
    },
    // HTTP delivery: the plan names the round's model version, published to Redis (awaited) before the plan.
    publishVersion: async (version, bytes) => {
      if (!session) throw new FedtuneError('stale_round', 'this node leads no run');
      const served = session.engine.modelVersions.publish(version, bytes);
      if (!(await modelVersions.written(served.version))) throw new FedtuneError('transport', `model version ${served.version} is not in Redis`);
      return served.sha256;
    },
    redisReady: () => redis.isReady,
    leaderToken: () => lease.leaderToken,
    emitToNodes,
    remoteOf: (link) => (link instanceof RemoteSiteLink ? { node: link.node, socket: link.id } : undefined),
    log,
  });
  const followerPartials = new FollowerPartialRounds({
    nodeId: cluster.nodeId,
    loadWeights: (sha256, maxBytes) => loadGlobalWeightsForRound(redis, cluster.prefix, sha256, maxBytes),
    loadVersionWeights: (version, sha256, maxBytes) => globalWeightsForVersion(version, modelVersions, sha256, maxBytes),
    fence,
    emitToNodes,
    onWarning: options.server.onWarning,
    relay: (link, message) => transport.relaySiteMessage(link, message),
  });
  transport.interceptSiteMessage = (link, message) => !transport.isLeading && followerPartials.intercept(link, message);
  transport.beforeRelay = () => followerPartials.records.flush();
  transport.onClusterMessage(CLUSTER_EVENTS.roundPlan, RoundPlanMessage, (m) => {
    if (transport.isLeading) return;
    warmEvaluation();
    followerPartials.onPlan(m).catch((err) => transport.refuse('round plan', err));
  });
  transport.onClusterMessage(CLUSTER_EVENTS.roundClose, RoundCloseMessage, (m) => {
    if (!transport.isLeading) followerPartials.onClose(m);
  });
  transport.onClusterMessage(CLUSTER_EVENTS.siteAccepted, SiteAcceptanceMessage, (m) => {
    if (!transport.isLeading) return;
    try {
      leaderPartials.onRecord(m);
    } catch (err) {
      transport.refuse('site acceptance record', err);
    }
  });
  transport.onClusterMessage(CLUSTER_EVENTS.siteAcceptedBatch, SiteAcceptanceBatchMessage, (m) => {
    if (!transport.isLeading) return;
    try {
      for (const err of leaderPartials.onRecordBatch(m).refused) transport.refuse('site acceptance record', err);
    } catch (err) {
      transport.refuse('batch of acceptance records', err);
    }
  });
  transport.onClusterMessage(CLUSTER_EVENTS.partial, PartialMessage, (m) => {
    if (!transport.isLeading) return;
    try {
      leaderPartials.onPartial(m);
    } catch (err) {
      transport.refuse('partial aggregate', err);
    }
  });

  // Holdout evaluations on a follower (docs/cluster.md, "Evaluation on a follower").
  // The transient copy outlives the wait for an answer by a minute at most (dropped once answered).
  const evaluationCopyTtlMs = cluster.evaluationTimeoutMs + 60_000;
  const leaderEvaluation = new LeaderDelegatedEvaluation({
    nodeId: cluster.nodeId,
    leaderToken: () => (lease.isLeader ? lease.leaderToken : undefined),
    followers: () => transport.liveNodes(),
    store: (bytes) => storeEvaluationWeights(redis, cluster.prefix, bytes, evaluationCopyTtlMs),
    drop: (sha256) => void dropEvaluationWeights(redis, cluster.prefix, sha256),
    emit: (request) => transport.emitToNodes(CLUSTER_EVENTS.evaluationRequest, request),
    timeoutMs: cluster.evaluationTimeoutMs,
    log,
  });
  const followerEvaluation = new FollowerHoldoutEvaluator({
    nodeId: cluster.nodeId,
    fence,
    loadWeights: (sha256) => loadEvaluationWeights(redis, cluster.prefix, sha256, options.server.maxMessageBytes),
    makeEvaluator: async () => {
      const source = options.server.holdout;
      const holdout = typeof source === 'function' ? source() : source;
      if (!holdout) throw new FedtuneError('config', 'this node has no holdout');
      const model = await options.loadModel();
      const global = new TfGlobalModel(model, holdout, options.server.runsDir, options.server.architecture, {}, [], { evaluation: options.server.evaluation, onWarning: options.server.onWarning });
      return {
        evaluate: (weights) => global.evaluate(weights),
        close: async () => {
          await global.closeEvaluation();
          global.dispose();
        },
      };
    },
    emit: (result) => transport.emitToNodes(CLUSTER_EVENTS.evaluationResult, result),
  });
  transport.onClusterMessage(CLUSTER_EVENTS.evaluationRequest, EvaluationRequestMessage, (m) => {
    if (!transport.isLeading) followerEvaluation.onRequest(m);
  });
  transport.onClusterMessage(CLUSTER_EVENTS.evaluationResult, EvaluationResultMessage, (m) => {
    if (transport.isLeading) leaderEvaluation.onResult(m);
  });
  // A follower readies its evaluator as soon as it finds the lease held by another node or hears of a leader (before
  // the sites join), and at the latest when a run's plan reaches it, so the leader's first request is not slow.
  const warmEvaluation = () => {
    if (cluster.evaluationTimeoutMs > 0 && !transport.isLeading) followerEvaluation.warm();
  };

  const lead = async (token: number) => {
    const [storedRun, doneRun] = (await redis.eval(RUN_SCRIPT, { keys: [keys.run, `${keys.run}:done`], arguments: [options.config.runId] })) as [string, string];
    if (lease.leaderToken !== token) return;
    if (!RUN_ID.test(storedRun)) throw new FedtuneError('config', `the cluster's run id in Redis (${keys.run}) is not a run id: ${clipText(storedRun, 64)}`);
    if (doneRun === storedRun) {
      log(`run ${storedRun} already ended; nothing to lead`);
      finish({ runId: storedRun, status: 'complete', leader: cluster.nodeId });
      return;
    }
    const localRound = new CheckpointStore(join(options.server.runsDir, storedRun)).latest().checkpoint?.round;
    const resume = localRound !== undefined;
    // A node whose --out is not the shared directory would start the run over (new rounds under its name, the audit chain forked).
    const clusterRound = await checkpointedRound(redis, keys.run, storedRun);
    if (lease.leaderToken !== token) return;
    checkRunsDirectoryShared({ nodeId: cluster.nodeId, runId: storedRun, runsDir: options.server.runsDir, clusterRound, localRound });
    const model = await options.loadModel();
    if (lease.leaderToken !== token) {
      model.dispose();
      return;
    }
    // Fenced writes: before each checkpoint or report write the lease is renewed (one round trip); once this node
    // lost it (another leads: e.g. it was paused past its lease), its run writes nothing more into the shared runs
    // directory, so the new leader's files stay as they are. During a Redis outage the leader keeps leading and writing.
    const mayPersist = async () => {
      if (lease.leaderToken !== token) return false;
      await lease.tick();
      return lease.leaderToken === token;
    };
    const manifest = modelManifest(model);
    const evaluateElsewhere = cluster.evaluationTimeoutMs > 0 ? (weights: WeightArrays) => leaderEvaluation.evaluate(manifest, weights) : undefined;
    // Without a checkpoint the run starts over, in the directory a previous leader may have begun it in (takeOver).
    const onCheckpointed = (round: number) => {
      if (lease.leaderToken === token) void recordCheckpointedRound(redis, keys.run, storedRun, round).catch(() => undefined);
    };
    const run = server.startRun({ config: parseRunConfig({ ...options.config, runId: storedRun }), model, resume, takeOver: !resume, remotePartials: leaderPartials, mayPersist, evaluateElsewhere, onCheckpointed });
    session = run;
    run.engine.modelVersions.onPublished((served) => {
      if (lease.leaderToken !== token) return;
      modelVersions.publish(served);
      transport.emitToNodes(CLUSTER_EVENTS.modelVersion, { node: cluster.nodeId, token, version: served.version, sha256: served.sha256 });
    });
    log(`node ${cluster.nodeId} leads run ${storedRun}${resume ? ` (resumed after round ${run.engine.report.rounds.length})` : ''}`);
    const report = await run.done;
    if (lease.leaderToken !== token) return;
    await redis.set(`${keys.run}:done`, storedRun).catch(() => undefined);
    transport.emitToNodes(CLUSTER_EVENTS.runDone, { node: cluster.nodeId, token, runId: storedRun, status: report.status });
    log(`run ${storedRun} ${report.status} (led by node ${cluster.nodeId})`);
    finish({ runId: storedRun, status: report.status, report, leader: cluster.nodeId });
  };

  lease = new LeaderLease({
    redis,
    prefix: cluster.prefix,
    nodeId: cluster.nodeId,
    ttlMs: cluster.leaseTtlMs,
    onAcquired: (token) => {
      log(`node ${cluster.nodeId} took the leader lease (fencing token ${token})`);
      highestLeader = Math.max(highestLeader, token);
      fence.observe(token);
      modelVersions.clear();
      transport.becomeLeader(token);
      lead(token).catch((err) => {
        log(`node ${cluster.nodeId} could not lead the run: ${clipText((err as Error)?.message ?? err)}`);
        void lease.stop(true).then(() => finish({ runId: options.config.runId, status: 'failed', leader: cluster.nodeId }));
      });
    },
    onFollowing: () => warmEvaluation(),
    onReestablished: (token) => recovery.reestablished(token),
    onRenewed: (token) => recovery.renewed(token),
    onLost: (token) => {
      log(`node ${cluster.nodeId} lost the leader lease (fencing token ${token}): another node leads; this node's run stops and its sites rejoin the new leader`);
      transport.becomeFollower();
      leaderEvaluation.cancelAll();
      modelVersions.clear();
      const run = session;
      session = undefined;
      // The new leader continues the audit chain from the file: nothing more of this node's may land in it.
      run?.fence();
      // Its sites must rejoin the new leader: their connections close now, before the stopped run would tell them 'complete'.
      for (const site of run?.engine.sites.all() ?? []) site.link.close();
      void run?.close();
    },
  });

  const url = (await server.listen())!;
  lease.start();

  return {
    nodeId: cluster.nodeId,
    url,
    server,
    transport,
    lease,
    modelVersions,
    partials: { leader: leaderPartials, follower: followerPartials },
    evaluation: { leader: leaderEvaluation, follower: followerEvaluation },
    fence,
    get session() {
      return session;
    },
    done,
    async close() {
      clearInterval(claims);
      await nodeIdClaim.release().catch(() => undefined);
      await lease.stop(true);
      leaderEvaluation.cancelAll();
      await followerEvaluation.close();
      await server.close();
      // Closes socket.io and its adapter (whose timers publish to Redis) before the Redis client goes.
      await transport.close();
      await redis.close().catch(() => redis.destroy());
    },
  };
}
