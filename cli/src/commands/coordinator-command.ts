import { checkTlsFiles } from './tls-files.ts';
import { join } from 'node:path';
import { accuracyDropWarning } from '../ui/accuracy-drop-warning.ts';
import { Command, Option } from 'commander';
import { type ConfigChange, maxMessageBytesForModelDir, maxMessageBytesFor, type RunInputs, type StartCoordinatorOptions, resumeRunConfig, type RunConfig, ClusterOptions, createCoordinatorServer, DEFAULT_HOST, DEFAULT_PORT, hasPretrainedModel, missingPretrainedModelError, pretrainedArchitectures, loadModelDir, readModelText, pretrainedModelDir, refuseTakenRunId, SiteTokenStore, startCoordinator, useServerHeapGrowth } from '@fedtune/coordinator';
import type { LayersModel } from '@tensorflow/tfjs';
import { digitsHeadlineEps, FedtuneError, type Dataset, type ImputeMethod } from '@fedtune/shared';
import { builtinDigits, checkInputFile, describeBackend, PEM_MAX_BYTES, readInputFile, readNumericCsv, selectNodeBackend } from '@fedtune/shared/node';
import { newRunId } from '../new-run-id.ts';
import type { SpamCoordinatorTask } from '../tasks/spam-task-plan.ts';
import { MAX_LISTED_SITES, RoundProgress } from '../ui/round-progress.ts';
import { exposureLines } from '../ui/exposure.ts';
import { pct } from '../ui/format.ts';
import { siteReportTable } from '../ui/site-report-table.ts';
import { choiceOption, columnListOption, floatOption, intOption, portOption, typedOnCommandLine } from './options.ts';
import { serveClusterNode } from './cluster-node.ts';
import { addRunConfigOptions, layeredRunConfig, RUN_CONFIG_FLAG_NAMES, RUN_CONFIG_FLAGS, runConfigFile, runConfigFlags } from './run-config-flags.ts';
import { refuseInactiveFlags } from './inactive-run-config-flags.ts';
import { refuseInputSpaceRobustnessOnText } from './text-model-robustness.ts';
import { exitOnSignalWhileStarting } from './exit-on-signal-while-starting.ts';
import { refuseMissingInputPaths } from './input-paths.ts';
import { refuseUnbindablePort } from './port-free.ts';
import { connectionLimitOption } from './connection-limit-option.ts';
import { privacyLine } from '../ui/privacy-line.ts';

/** What the coordinator command calls to serve (tests pass their own to see what a command line asks for). */
export interface CoordinatorDeps {
  startCoordinator: typeof startCoordinator;
  createCoordinatorServer: typeof createCoordinatorServer;
  /** Serves one node of a cluster (`--cluster`; default: cluster-node.ts). */
  serveClusterNode?: typeof serveClusterNode;
  /**
   * Refuses a port the server could not bind, before anything is created on disk (default: port-free.ts; tests
   * that stand in for the server leave it out, so no real port is bound).
   */
  refuseUnbindablePort?: typeof refuseUnbindablePort;
}

/**
 * The run configuration a parsed `coordinator` command line asks for: schema defaults < `--config FILE` <
 * flags typed on the command line; with `--resume`, the run's checkpointed settings < file < flags.
 */
export function coordinatorRunConfig(command: Command, task?: SpamCoordinatorTask): { config: RunConfig; changes?: ConfigChange[] } {
  const o = command.opts();
  const file = runConfigFile(command);
  const flags = runConfigFlags(command);
  if (o.resume) {
    // The checkpoint holds the run's settings; only what is given now (file, flags) overrides them.
    // What is given now is refused where it can have no effect, as for a new run (inactive-run-config.ts).
    const { config, changes } = resumeRunConfig(o.out, o.resume, { file, flags: { ...flags, runId: o.resume }, flagNames: RUN_CONFIG_FLAG_NAMES });
    refuseInactiveFlags(flags, config, RUN_CONFIG_FLAG_NAMES);
    return { config, changes };
  }
  // On the built-in holdout (no --holdout), the built-in task's headline ε is always among the attacks' ε.
  // The spam task's settings are simulate's (spam-task-plan.ts), under the file and the flags.
  const headline = task ? task.settings : o.holdout ? {} : { robustness: { headlineEps: digitsHeadlineEps(true) } };
  return { config: layeredRunConfig({ base: { runId: file?.values.runId ?? newRunId(), ...headline }, file, flags }) };
}

/** The built-in holdout's name for the saved models' metadata (saved-holdout.ts): the scanned digits, unless a task or --holdout brings another. */
function builtinHoldoutName(holdoutCsv: string | undefined, task: unknown): { holdoutName?: string } {
  return holdoutCsv === undefined && !task ? { holdoutName: 'digits-holdout-scanned' } : {};
}

/**
 * Coordinator flags that act only with another one (the run-config flags' own check is refuseInactiveFlags):
 * typed without it they would do nothing, so they are refused with one line saying why, before anything loads.
 */
export function refuseCoordinatorFlagsWithoutEffect(command: Command): void {
  const o = command.opts();
  const typed = (option: string) => typedOnCommandLine(command, option);
  if (typed('arch') && o.task === 'spam') throw new FedtuneError('config', '--arch has no effect with --task spam: the spam task runs its text-cnn');
  if (typed('arch') && o.model) throw new FedtuneError('config', '--arch has no effect with --model: the model directory is the architecture');
  if (!o.holdout) {
    for (const [attribute, flag] of [['labelColumn', '--label-column'], ['featureColumns', '--feature-columns'], ['impute', '--impute']] as const) {
      if (typed(attribute)) throw new FedtuneError('config', `${flag} reads the holdout CSV: it needs --holdout`);
    }
  }
  if (o.cluster && o.serve) throw new FedtuneError('config', '--serve does not go with --cluster: a cluster node ends with the cluster\'s run');
  if (o.serveOnly) {
    const runFlag = RUN_CONFIG_FLAGS.map((f) => f.flags.split(' ')[0]).find(typed);
    if (runFlag) throw new FedtuneError('config', `--serve-only starts no run, so ${runFlag} has no effect: give a run's settings in POST /api/runs`);
  }
}

export function coordinatorCommand(deps: CoordinatorDeps = { startCoordinator, createCoordinatorServer, refuseUnbindablePort }): Command {
  const command = new Command('coordinator')
    .description('serve a run: sites join over socket.io, the coordinator aggregates and evaluates; exits when the run completes')
    .option('--port <n>', 'port to listen on', portOption, DEFAULT_PORT)
    .option('--host <addr>', 'address to bind (0.0.0.0: every interface, reachable from the network; then the control plane needs `fedtune admin-token`)', DEFAULT_HOST)
    .option('--out <dir>', 'directory for runs', 'runs')
    .option('--serve', 'keep the API up after the run completes')
    .option('--serve-only', 'serve the HTTP API and socket.io with no run: create and start runs with POST /api/runs and POST /api/runs/:id/start (run flags are refused: a run\'s settings go in POST /api/runs)')
    .addOption(new Option('--task <name>', 'built-in task: digits (images) or spam (SpamAssassin e-mail, text-cnn with its vocabulary; sites join with text folders or a CSV text column; docs/text.md)').choices(['digits', 'spam']).default('digits'))
    .option('--arch <name>', `architecture of the built-in pretrained model (${pretrainedArchitectures().join(', ')})`, 'mlp')
    .option('--model <dir>', 'start from this TensorFlow.js model directory instead of the built-in checkpoint')
    .option('--holdout <file.csv>', "the coordinator's held-out set (default: the built-in digits holdout)")
    .option('--label-column <name>', 'label column of the holdout CSV', 'label')
    .option('--feature-columns <columns>', 'holdout CSV: only these columns are features, in this order (comma-separated; the sites give the same --feature-columns)', columnListOption)
    .option('--impute <method>', "holdout CSV: fill missing values with the feature's mean, median (of the holdout's own values) or zero, as a site's --impute (default: refuse a holdout with missing values)", choiceOption('impute', ['mean', 'median', 'zero'] as const))
    .option('--backend <name>', 'tfjs backend for evaluation (default: fastest available)')
    .option('--resume <run-id>', 'continue this run from its latest good checkpoint with its own settings; flags given now override them (sites reconnect by themselves)')
    .option('--tls-cert <file>', 'PEM certificate (chain): serve HTTPS and WSS (with --tls-key)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--sites-db <path>', 'site registry (fedtune sites add --db PATH); default: <out>/fedtune.db')
    .option('--require-tokens', 'refuse sites without a valid token (default: required as soon as a site is registered)')
    .option('--no-require-tokens', 'let any site join, even with sites registered')
    .option('--hello-limit <n>', 'failed join attempts (bad or missing token) per address and per site name per minute; a valid token always joins', intOption('hello-limit', 1), 30)
    .option('--open-join-limit <n>', 'joins without a site token (where tokens are not required) per address per minute, in bursts of 2048; 0: no limit (default 60)', intOption('open-join-limit', 0))
    .option('--api-rate <n>', 'HTTP /api requests per second per address (bursts of twice that)', intOption('api-rate', 1), 50)
    .option('--connection-limit <key=value>', 'one of the connection limits (repeatable), e.g. maxUnwelcomedPerAddress=4096 or connectionsPerSecond=200 for a gateway holding thousands of sites (docs/access.md#limits)', connectionLimitOption)
    .option('--log-file <path>', 'also write structured JSON logs (pino: requests, rounds, sites, rejections) to this file')
    .option('--cluster <redis-url>', 'run as one node of a coordinator cluster sharing this Redis (redis://HOST:PORT): one node leads the run, the others relay their sites to it; give every node the same --out directory (docs/cluster.md)')
    .option('--node-id <id>', 'this node\'s id in the cluster (with --cluster; default: node-<random>)')
    .option('--cluster-leader-weight <w>', `the leader's share of the sites relative to a follower's, 0–1 (with --cluster; default ${ClusterOptions.parse({ redisUrl: 'redis://x' }).leaderWeight}): sites given several nodes (client --server URL1,URL2,…) are sent on from a node above its share (docs/cluster.md#site-placement)`, floatOption('cluster-leader-weight', 0, 1))
    .addOption(new Option('--cluster-secret-file <path>', 'a file holding the cluster secret (≥ 32 bytes, e.g. openssl rand -hex 32; the same on every node): every message between nodes is authenticated with it (with --cluster; docs/cluster.md#trust-and-deployment)').env('FEDTUNE_CLUSTER_SECRET_FILE'));
  addRunConfigOptions(command);
  // Both --require-tokens and --no-require-tokens: commander keeps the last; refused instead (contradictory).
  const tokenFlags = new Set<string>();
  command.on('option:require-tokens', () => tokenFlags.add('--require-tokens'));
  command.on('option:no-require-tokens', () => tokenFlags.add('--no-require-tokens'));
  return command.action(async (o) => {
    if (tokenFlags.size === 2) throw new FedtuneError('config', '--require-tokens and --no-require-tokens contradict each other: give one');
    refuseCoordinatorFlagsWithoutEffect(command);
    refuseMissingInputPaths([
      { option: '--config', path: o.config, kind: 'file' },
      { option: '--model', path: o.model, kind: 'directory' },
      // A cluster follower never reads the holdout: only the node that comes to lead does (below).
      { option: '--holdout', path: o.cluster ? undefined : o.holdout, kind: 'file' },
      { option: '--tls-cert', path: o.tlsCert, kind: 'file' },
      { option: '--tls-key', path: o.tlsKey, kind: 'file' },
      { option: '--cluster-secret-file', path: o.clusterSecretFile, kind: 'file' },
    ]);
    // The server needs its runs directory, fedtune.db and identity key before it listens: a port it cannot bind
    // (in use, privileged, not this machine's address) is refused first, so such a failure leaves nothing behind.
    await deps.refuseUnbindablePort?.(o.host, o.port);
    // A server's heap: rarer full collections under the update buffers' churn (server-heap-growth.ts).
    const heapFlag = useServerHeapGrowth();
    if (process.env.FEDTUNE_DEBUG) console.error(`fedtune: coordinator heap growth ${heapFlag}`);
    const selection = await selectNodeBackend(o.backend);
    console.log(describeBackend(selection));
    // Loaded only for --task spam: a client (whose program also defines this command) never loads the simulation code.
    const task = o.task === 'spam' ? (await import('../tasks/spam-task-plan.ts')).spamCoordinatorTask() : undefined;
    if (!task && !o.model && !hasPretrainedModel(o.arch)) throw missingPretrainedModelError(o.arch);
    // A holdout that is not there is refused before listening (its parse comes after: docs/performance.md#listening-first);
    // not in a cluster, where a node reads it only if it comes to lead (a follower without it starts and serves).
    if (o.holdout && !o.cluster) checkInputFile(o.holdout, { what: 'holdout CSV', code: 'data' });
    const modelDir: string = o.model ?? task?.modelDir ?? pretrainedModelDir(o.arch);
    const architecture: string = o.model ? 'custom' : (task?.architecture ?? o.arch);
    // A model directory with a vocab.json is a text model: its vocabulary goes to the sites (and into the terms).
    const text = readModelText(modelDir);
    // The text task's sites tokenize with the model's vocabulary: a model directory without one could never train.
    if (task && !text) throw new FedtuneError('config', `--task spam needs a text model: ${modelDir} has no vocab.json (a text model's directory holds model.json, weights.bin and vocab.json)`);
    const loadModel = () => loadModelDir(modelDir, { onNotice: (m) => console.log(`note: ${m}`) });
    const loadHoldout = (model: LayersModel) => (o.holdout ? readNumericCsv(o.holdout, { labelColumn: o.labelColumn, numClasses: model.outputs[0].shape.at(-1) ?? undefined, ...(o.featureColumns ? { featureColumns: o.featureColumns } : {}), ...(o.impute ? { impute: o.impute as ImputeMethod } : {}) }) : (task ? task.loadHoldout() : builtinDigits().holdout));
    const { config, changes } = coordinatorRunConfig(command, task);
    // A new run's id that names a run on disk is refused before listening (a cluster node takes its run over).
    if (!o.resume && !o.cluster && !o.serveOnly) refuseTakenRunId(o.out, config.runId);
    // Sites augment only texts: on a model of images or features they would ignore it (simulate refuses it too).
    if (config.train.textAugmentation && !text) throw new FedtuneError('config', 'text augmentation (--text-augment, train.textAugmentation) needs a text task: --task spam, or a --model directory with a vocab.json');
    // A text model's inputs are token ids: smoothing, per-site robustness (and, on the spam task, the input-space attacks) are refused.
    if (text) refuseInputSpaceRobustnessOnText(config, { inputParts: Boolean(task) });
    if (changes) {
      console.log(
        changes.length === 0
          ? `resuming run ${o.resume} with its own settings`
          : `resuming run ${o.resume} with its own settings, except: ${changes.map((c) => `${c.field} ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`).join(', ')}`,
      );
    }
    if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) throw new FedtuneError('config', '--tls-cert and --tls-key go together');
    const tls = o.tlsCert ? { cert: readInputFile(o.tlsCert, { what: 'TLS certificate', code: 'config', maxBytes: PEM_MAX_BYTES }), key: readInputFile(o.tlsKey, { what: 'TLS key', code: 'config', maxBytes: PEM_MAX_BYTES }) } : undefined;
    if (tls) checkTlsFiles(tls, { cert: o.tlsCert, key: o.tlsKey });
    const sitesDb: string = o.sitesDb ?? join(o.out, 'fedtune.db');
    const store = new SiteTokenStore(sitesDb);
    const requireTokens: boolean | undefined = o.requireTokens;
    const registered = store.list().filter((s) => !s.revokedAt).length;
    console.log(
      requireTokens === false
        ? 'site tokens: not required (--no-require-tokens): any site may join'
        : requireTokens || store.size > 0
          ? `site tokens: required (${registered} active site(s) in ${sitesDb})`
          : `site tokens: not required until a site is registered (fedtune sites add NAME --db ${sitesDb})`,
    );
    const access = {
      store,
      requireTokens,
      hellosPerMinute: o.helloLimit,
      ...(o.openJoinLimit !== undefined ? { openJoinsPerMinute: o.openJoinLimit } : {}),
      onRefusal: (r: { siteId: string; address?: string; code: string; reason: string }) => console.warn(`refused ${r.siteId}${r.address ? ` from ${r.address}` : ''}: ${r.code}: ${r.reason}`),
    };
    if (o.nodeId !== undefined && !o.cluster) throw new FedtuneError('config', '--node-id needs --cluster');
    if (o.clusterLeaderWeight !== undefined && !o.cluster) throw new FedtuneError('config', '--cluster-leader-weight needs --cluster');
    if (o.clusterSecretFile !== undefined && !o.cluster) throw new FedtuneError('config', '--cluster-secret-file (or FEDTUNE_CLUSTER_SECRET_FILE) needs --cluster');
    if (o.cluster) {
      if (o.serveOnly || o.resume) throw new FedtuneError('config', '--cluster does not go with --serve-only or --resume: a cluster node resumes the cluster\'s run by itself when it takes the lead');
      const model = await loadModel();
      // A cluster follower never reads the holdout (only the leader evaluates): it is read when the node first leads.
      let holdoutRead: Dataset | undefined;
      const readHoldout = (): Dataset => (holdoutRead ??= loadHoldout(model));
      const clusterProgress = new RoundProgress(config.rounds);
      return (deps.serveClusterNode ?? serveClusterNode)({
        redisUrl: o.cluster,
        nodeId: o.nodeId,
        ...(o.clusterLeaderWeight !== undefined ? { leaderWeight: o.clusterLeaderWeight } : {}),
        ...(o.clusterSecretFile !== undefined ? { secretFile: o.clusterSecretFile } : {}),
        config,
        model,
        loadModel: () => loadModelDir(modelDir),
        server: {
          runsDir: o.out,
          holdout: readHoldout,
          ...builtinHoldoutName(o.holdout, task),
          architecture,
          backend: selection.backend,
          maxMessageBytes: maxMessageBytesFor(model),
          ...(text ? { text } : {}),
          ...(task ? { textRobustness: task.textRobustness } : {}),
          port: o.port,
          host: o.host,
          onEvent: (e) => clusterProgress.handle(e),
          onWarning: (message) => console.warn(`warning: ${message}`),
          access,
          tls,
          apiRateLimit: { ratePerSecond: o.apiRate, burst: 2 * o.apiRate },
          ...(o.connectionLimit ? { connectionLimits: o.connectionLimit } : {}),
          logFile: o.logFile,
        },
      }).finally(() => store.close());
    }
    if (o.serveOnly) {
      if (o.resume) throw new FedtuneError('config', '--serve-only and --resume do not go together: resume a run with fedtune coordinator --resume RUN_ID');
      const model = await loadModel();
      const holdout = loadHoldout(model);
      const maxMessageBytes = maxMessageBytesFor(model);
      model.dispose();
      const server = deps.createCoordinatorServer({
        runsDir: o.out,
        holdout: holdout,
        ...builtinHoldoutName(o.holdout, task),
        architecture,
        backend: selection.backend,
        transport: 'socket',
        maxMessageBytes,
        ...(text ? { text } : {}),
        ...(task ? { textRobustness: task.textRobustness } : {}),
        loadModel: () => loadModelDir(modelDir),
        port: o.port,
        host: o.host,
        onEvent: (e) => {
          if (e.type === 'complete') console.log(`run ${e.report.runId} ${e.report.status}: final accuracy ${pct(e.report.final?.accuracy).trim()}${e.report.aborted ? ` (${e.report.aborted})` : ''}`);
        },
        onWarning: (message) => console.warn(`warning: ${message}`),
        access,
        tls,
        apiRateLimit: { ratePerSecond: o.apiRate, burst: 2 * o.apiRate },
        ...(o.connectionLimit ? { connectionLimits: o.connectionLimit } : {}),
        logFile: o.logFile,
      });
      const url = await server.listen();
      console.log(`coordinator identity (sites pin it in their policy's coordinators): ${server.identity.publicKey}`);
      printExposure(server.exposure());
      console.log(`coordinator serving on ${url} with no run: POST /api/runs to create one, POST /api/runs/:id/start to start it (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      store.close();
      return;
    }
    // A federation waiting for more than MAX_LISTED_SITES sites: one waiting line per tenth, no line per site.
    const progress = new RoundProgress(config.rounds, config.minSites <= MAX_LISTED_SITES);
    const stopStarting = exitOnSignalWhileStarting('loading the model and the holdout', () => store.close());
    const coordinator = await deps.startCoordinator({
      runsDir: o.out,
      // The run listens first and loads its model and holdout after (fast start: docs/performance.md#listening-first).
      ...(await lazyRunInputs(modelDir, loadModel, loadHoldout)),
      ...builtinHoldoutName(o.holdout, task),
      onListening: (listening) => {
        printExposure(listening.exposure);
        console.log(`coordinator for run ${config.runId} listening on ${listening.url}; loading the model and the holdout`);
        const privacy = privacyLine(config);
        if (privacy) console.log(privacy);
      },
      architecture,
      ...(text ? { text } : {}),
      ...(task ? { textRobustness: task.textRobustness } : {}),
      backend: selection.backend,
      transport: 'socket',
      port: o.port,
      host: o.host,
      onEvent: (e) => progress.handle(e),
      config,
      resume: Boolean(o.resume),
      onWarning: (message) => console.warn(`warning: ${message}`),
      access,
      tls,
      apiRateLimit: { ratePerSecond: o.apiRate, burst: 2 * o.apiRate },
      ...(o.connectionLimit ? { connectionLimits: o.connectionLimit } : {}),
      logFile: o.logFile,
    }).catch((err) => {
      stopStarting();
      throw err;
    });
    console.log(`run ${coordinator.runId} ready${o.resume ? ` (resumed after round ${coordinator.engine.report.rounds.length})` : ''}: waiting for ${config.minSites} sites`);
    console.log(`coordinator identity (sites pin it in their policy's coordinators): ${coordinator.coordinatorKey}; run terms ${coordinator.engine.termsGate.signed.hash} (GET /api/v1/terms)`);
    const stop = () => {
      console.log('stopping after the current round…');
      coordinator.requestStop();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    stopStarting(); // after the run's own handlers are in place, so a signal on its way is not lost
    const report = await coordinator.done;
    if (o.serve) {
      console.log(`run complete; serving the API on ${coordinator.url} (Ctrl-C or SIGTERM to stop)`);
      // The run's own SIGINT/SIGTERM handlers asked it to stop after its round; now either signal ends the serving.
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    progress.quiet = true;
    await coordinator.close();
    store.close();
    // A run stopped before its first round has no accuracy to show ("- → -").
    const outcome = report.rounds.length === 0 ? ' before its first round' : `: accuracy ${pct(report.pretrained?.accuracy).trim()} → ${pct(report.final?.accuracy).trim()}`;
    console.log(`run ${report.runId} ${report.status}${outcome}${report.aborted ? ` (${report.aborted})` : ''}`);
    const drop = report.status === 'complete' ? accuracyDropWarning(report) : undefined;
    if (drop) console.warn(drop);
    if (report.siteReport) for (const line of siteReportTable(report.siteReport)) console.log(line);
    console.log(join(coordinator.runDir, 'report.json'));
    if (report.status !== 'complete') process.exitCode = 1;
  });
}

function printExposure(exposure: Parameters<typeof exposureLines>[0] | undefined): void {
  if (!exposure) return;
  for (const line of exposureLines(exposure)) (line.startsWith('warning') ? console.warn : console.log)(line);
}

/**
 * How a run gets its model and holdout: after the server listens (`load`, with the message limit read from
 * model.json), or — when model.json's manifest cannot be read — loaded now, so the model's own error comes first.
 */
async function lazyRunInputs(modelDir: string, loadModel: () => Promise<LayersModel>, loadHoldout: (model: LayersModel) => Dataset): Promise<Pick<StartCoordinatorOptions, 'load' | 'maxMessageBytes'>> {
  const load = async (model?: LayersModel): Promise<RunInputs> => {
    const m = model ?? (await loadModel());
    try {
      // A turn of the event loop before and after the holdout's synchronous parse: Ctrl-C meanwhile ends the
      // process before the run starts (exitOnSignalWhileStarting), not after.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const holdout = loadHoldout(m);
      await new Promise<void>((resolve) => setImmediate(resolve));
      return { model: m, holdout };
    } catch (err) {
      m.dispose();
      throw err;
    }
  };
  const maxMessageBytes = maxMessageBytesForModelDir(modelDir);
  if (maxMessageBytes !== undefined) return { load: () => load(), maxMessageBytes };
  const model = await loadModel();
  return { load: () => load(model), maxMessageBytes: maxMessageBytesFor(model) };
}
