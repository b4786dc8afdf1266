import { resolveSimulationTransport, type SimulationTransportChoice } from './simulation-transport.ts';
import { SIMULATED_SITE_POLICY } from './simulated-site-policy.ts';
import { startCoordinator, loadModelDir, pretrainedModelDir, pretrainedSpamModelDir, readModelText, hasPretrainedModel, missingPretrainedModelError, type TextRobustnessEvaluator, type EngineEvent, deepMerge, type PartialRunConfigInput, type RunConfig, type RunConfigFile, type RunConfigInput } from '@fedtune/coordinator';
import { droppingConnector } from './dropout-connector.ts';
import { FitPool, fitPoolFallbackReason, fitPoolOptions, forwardMacsPerExample, resolveFitPoolWorkers, runNodeSite, runVirtualSites, siteSplitSeed, VirtualDigitsSites } from '@fedtune/client-node';
import { classCounts, deriveSeed, digitsHeadlineEps, type TextRobustnessOptions, type RobustnessEvaluationConfig, type TrainConfig, FedtuneError, MemoryNetwork, parsePartitionSpec, SeededRandom, siteName, socketIoConnector, type Dataset, type RunReport, type SiteEvent, type SiteOutcome, type UpdateHook, type ModelTextSection, vocabularyHashOf } from '@fedtune/shared';
import { attackOptions, Collusion, getAttack } from './attacks/index.ts';
import { builtinDigits, builtinDigitsSitesInParallel, selectNodeBackend } from '@fedtune/shared/node';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { layeredRunConfig } from '../commands/run-config-flags.ts';
import { refuseInputSpaceRobustnessOnText } from '../commands/text-model-robustness.ts';
import { newRunId } from '../new-run-id.ts';
import { chooseSiteData, resampleAlpha, type ChosenSiteData, type SimulationSiteData } from './simulation-site-data.ts';
import { SPAM_INPUT_ROBUSTNESS_OFF, SPAM_DEFAULT_PARTITION, SPAM_SIMULATION_SETTINGS, spamSimulationData, spamTextRobustness } from '../tasks/spam-task-plan.ts';

/**
 * A simulated federation. Run settings left out here come from the RunConfig schema's defaults; `configFile`
 * and `config` (the command line's flags) layer over the fields below: defaults < simulation < file < config.
 */
export interface SimulationOptions {
  sites: number;
  /** The built-in task: digits (default) or spam (SpamAssassin e-mail, text-cnn; docs/text.md). */
  task?: 'digits' | 'spam';
  /** Spam task: the text robustness evaluation of the final model (default: every corruption, default sizes). */
  textRobustness?: TextRobustnessOptions;
  rounds?: number;
  /** The run's seed: partition, malicious sites, sampling and training (default: the schema's). */
  seed?: number;
  /** Root directory of runs; the report lands at `<out>/<runId>/report.json`. */
  out: string;
  /**
   * Aborted (Ctrl-C): the run stops after its current round — at once while waiting for sites — and ends
   * `aborted`, its report and checkpoints written as a coordinator's are. Aborted before the coordinator
   * starts: it stops as soon as it has.
   */
  signal?: AbortSignal;
  /** 'auto' (the CLI's default): socket.io on loopback unless the sites need more open files than this process may open (simulation-transport.ts). */
  transport: SimulationTransportChoice;
  partition?: string;
  /** Render each site's images through its own scanner (default true). */
  featureShift?: boolean;
  /** Digits task: disjoint shares of the pool, or virtual sites resampling it (default: chosen by the number of sites; simulation-site-data.ts). */
  siteData?: SimulationSiteData;
  architecture?: string;
  strategy?: string;
  strategyOptions?: Record<string, unknown>;
  /** Reject updates farther than this (L2) from the global model. */
  maxUpdateNorm?: number;
  /** Poisoning defences (on by default, defaults in run-config.ts); e.g. all 0/1 to measure a run without them. */
  defences?: Partial<Pick<RunConfigInput, 'normBoundMultiple' | 'exampleWeightCap' | 'maxAccuracyDrop' | 'maxAccuracyDropFromBest'>>;
  /** Name of the attack the malicious sites run (see attacks/registry.ts). */
  attack?: string;
  attackOptions?: Record<string, unknown>;
  /** Share of sites that are malicious (rounded to the nearest count, at least 1 when an attack is set). */
  malicious?: number;
  /**
   * Probability that a site drops out instead of answering a fit instruction (its connection closes mid-round;
   * it reconnects and joins again for later rounds), seeded by the run's seed, the site and the instruction. 0: none.
   * Sites made from a partition only (not virtual sites).
   */
  dropout?: number;
  fraction?: number;
  quorum?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  optimizer?: 'sgd' | 'momentum' | 'adam';
  trainable?: 'all' | 'head' | number;
  maxExamples?: number;
  federatedEvaluation?: 'never' | 'final' | 'every-round';
  /** Client-level differential privacy (DP-FedAvg); needs strategy fedavg. */
  dp?: { noiseMultiplier: number; clip: number; adaptive?: { targetQuantile: number; learningRate: number }; delta?: number };
  /** Secure aggregation (docs/privacy.md); needs a strategy of the mean. */
  secureAggregation?: { clip: number; threshold?: number; neighbours?: number };
  /** Robustness evaluation of the global model (default: final round, default sizes). */
  robustness?: Partial<RobustnessEvaluationConfig>;
  /** Extra training settings for the sites (robust fine-tuning: adversarial, augmentation, proximalMu, …). */
  trainExtras?: Partial<TrainConfig>;
  roundTimeoutMs?: number;
  backend?: string;
  /** Threads the sites' fits run on, shared by all sites: N (1 = the main thread), or 'auto' (the default: every core for long fits, else 1; fit-pool-options.ts). */
  workers?: number | 'auto';
  runId?: string;
  /** A run configuration file (`--config`): over the fields above. */
  configFile?: RunConfigFile;
  /** Run-config fields given on the command line: over everything else. */
  config?: PartialRunConfigInput;
  onEngineEvent?: (event: EngineEvent) => void;
  onSiteEvent?: (siteId: string, event: SiteEvent) => void;
  /** Called once the federation is built, before it runs. */
  onPlan?: (plan: { config: RunConfig; labelCounts: Record<string, number[]>; malicious: string[]; partition: string; siteData: ChosenSiteData; transport: 'socket' | 'memory' }) => void;
  /** Called with the virtual sites when the sites resample (tests count what they make). */
  onVirtualSites?: (sites: VirtualDigitsSites) => void;
  /** Lines worth telling the user (how many threads train the sites). */
  onLog?: (line: string) => void;
  /** Called with the fit pool when the sites train on threads (tests read how many fits each thread ran). */
  onFitPool?: (pool: FitPool) => void;
  /** Called once the coordinator listens (socket transport). */
  onListening?: (url: string) => void;
}

export interface SimulationResult {
  report: RunReport;
  reportPath: string;
  runDir: string;
  backend: string;
  sites: SiteOutcome[];
}

/** A new run id: time-ordered and unique. */
export { newRunId };

/** A simulation waits longer than a served run: every site trains on this one machine. */
export const SIMULATION_TIMEOUTS = Object.freeze({ roundTimeoutMs: 600_000, joinTimeoutMs: 120_000 });

/**
 * The run configuration of a simulation, resolved without running anything: schema defaults < the
 * simulation's own (every site must join, generous timeouts, Krum-family f from the attackers' count) <
 * the run settings in `options` < `options.configFile` < `options.config`.
 */
export function simulationRunConfig(options: SimulationOptions, maliciousCount = 0, virtualSites = false): RunConfig {
  const base: PartialRunConfigInput = {
    // Virtual sites hold no model between instructions, and a federated evaluation asks a sample of them.
    ...(virtualSites ? VIRTUAL_SITES_RUN_CONFIG : {}),
    runId: newRunId(),
    minSites: options.sites,
    ...SIMULATION_TIMEOUTS,
    // Thousands of sites join one by one on this machine: the wait grows with them (50 ms a site beyond 2,400).
    joinTimeoutMs: Math.max(SIMULATION_TIMEOUTS.joinTimeoutMs, options.sites * 50),
    // The simulation knows how many sites it made malicious: Krum-family strategies default their f to it.
    ...(maliciousCount ? { expectedMaliciousSites: maliciousCount } : {}),
    // The built-in task's headline ε is always among the attacks' ε (digits-task.ts). Token ids have no ε:
    // the text task's robustness is its own section (textRobustness), the input-space parts are off.
    ...(options.task === 'spam' ? SPAM_INPUT_ROBUSTNESS_OFF : { robustness: { headlineEps: digitsHeadlineEps(options.featureShift !== false) } }),
    // The spam task's own rounds and local training (spam-task-plan.ts), under every flag and file.
    ...(options.task === 'spam' ? SPAM_SIMULATION_SETTINGS : {}),
  };
  const settings: PartialRunConfigInput = {
    runId: options.runId,
    rounds: options.rounds,
    seed: options.seed,
    fraction: options.fraction,
    quorum: options.quorum,
    strategy: options.strategy,
    strategyOptions: options.strategyOptions,
    maxUpdateNorm: options.maxUpdateNorm,
    ...options.defences,
    roundTimeoutMs: options.roundTimeoutMs,
    federatedEvaluation: options.federatedEvaluation,
    robustness: options.robustness,
    dp: options.dp as RunConfigInput['dp'],
    secureAggregation: options.secureAggregation,
    // The options set here override trainExtras only when given: an unset option must not erase a preset's or a bench's value.
    train: {
      ...options.trainExtras,
      ...Object.fromEntries(Object.entries({ epochs: options.epochs, batchSize: options.batchSize, learningRate: options.learningRate, optimizer: options.optimizer, trainable: options.trainable, maxExamples: options.maxExamples }).filter(([, v]) => v !== undefined)),
    },
  };
  const config = layeredRunConfig({ base: deepMerge(base, settings) as PartialRunConfigInput, file: options.configFile, flags: options.config });
  // A simulation has exactly its --sites: a run that waits for more would wait out its join timeout, then abort.
  if (config.minSites > options.sites) throw new FedtuneError('config', `minSites ${config.minSites} is more than the ${options.sites} simulated sites (--sites): the run would wait for sites that never come; give --min-sites ${options.sites} or fewer, or --sites ${config.minSites}`);
  return config;
}

/** What a simulation of virtual sites sets, under every flag and file: sites drop the model; federated evaluation asks at most 100 sites. */
export const VIRTUAL_SITES_RUN_CONFIG = Object.freeze({ sitesKeepModel: false, maxEvaluationSites: 100 });

/** A simulated federation before it runs: its config, its sites' data (poisoned where malicious) and the holdout. */
export interface SimulationPlan {
  config: RunConfig;
  partition: string;
  siteIds: string[];
  datasets: Dataset[];
  labelCounts: Record<string, number[]>;
  malicious: string[];
  attack: ReturnType<typeof getAttack> | undefined;
  attackOpts: Record<string, number>;
  hooks: Record<string, UpdateHook>;
  holdout: Dataset;
  /** Spam task: the coordinator's text robustness evaluation of the final model. */
  textRobustness?: TextRobustnessEvaluator;
  /** The spam task: the vocabulary the sites' token ids were made with, which the coordinator's model brings (and the terms pin). */
  text?: ModelTextSection;
  /** Spam task: per site, its e-mails per collection. */
  collections?: Record<string, Record<string, number>>;
  /** The site data: partitioned (datasets above) or resampled by virtual sites (datasets empty; `virtualSites` makes them). */
  siteData: ChosenSiteData;
  virtualSites?: VirtualDigitsSites;
}

/** Builds the federation `runSimulation` runs, without loading a model or starting anything. */
export async function planSimulation(options: SimulationOptions): Promise<SimulationPlan> {
  const attack = options.attack && options.attack !== 'none' ? getAttack(options.attack) : undefined;
  // A share of exactly 0 asks for no attacker: refused rather than rounded up to the one malicious site a small share gets.
  if (attack && options.malicious === 0) throw new FedtuneError('config', `--malicious 0 makes no site run --attack ${options.attack}: drop --attack for a run without attackers`);
  const maliciousCount = attack ? Math.max(1, Math.round((options.malicious ?? 0.2) * options.sites)) : 0;
  if (options.task === 'spam' && options.siteData?.mode === 'resample') throw new FedtuneError('config', '--site-data resample is for the digits task; the spam task partitions its corpus');
  const siteData = options.task === 'spam' ? { siteData: { mode: 'partition' as const }, automatic: true } : chooseSiteData(options.siteData, options.sites, builtinDigits().pool.y.length);
  if (siteData.siteData.mode === 'resample') return planVirtualSimulation(options, siteData, siteData.siteData.examples, attack !== undefined);
  const config = simulationRunConfig(options, maliciousCount);
  const seed = config.seed;
  // Before the corpus is read: what a text model's robustness cannot do is refused in one line.
  if (options.task === 'spam') refuseInputSpaceRobustnessOnText(config, { inputParts: true });
  const spam = options.task === 'spam' ? spamSimulationData({ sites: options.sites, partition: options.partition ?? SPAM_DEFAULT_PARTITION, seed, augmentation: config.train.textAugmentation }) : undefined;
  // The holdout is rendered like the sites' data: by the scanners, or not at all without feature shift.
  const holdout = spam ? spam.holdout : options.featureShift === false ? builtinDigits().holdoutClean : builtinDigits().holdout;
  const partition = options.partition ?? (spam ? SPAM_DEFAULT_PARTITION : 'dirichlet:0.5');
  if (config.train.textAugmentation && !spam) throw new FedtuneError('config', 'text augmentation needs a text task (--task spam)');
  // The scanners' rendering, on this thread and a worker (the same images either way).
  const clean = spam ? spam.datasets : await builtinDigitsSitesInParallel({ sites: options.sites, partition: parsePartitionSpec(partition), seed, featureShift: options.featureShift });
  const siteIds = clean.map((_, k) => siteName(k));
  // Malicious sites: a seeded choice of round(malicious × sites) of them.
  const attackOpts = attack ? attackOptions(attack, options.attackOptions) : {};
  if (maliciousCount >= options.sites) throw new FedtuneError('config', `${maliciousCount} malicious sites of ${options.sites} leaves no honest site`);
  const malicious = new SeededRandom(deriveSeed(seed, 'malicious')).shuffle([...siteIds]).slice(0, maliciousCount).sort();
  const collusion = new Collusion(maliciousCount);
  const hooks: Record<string, UpdateHook> = {};
  const datasets: Dataset[] = clean.map((data, k) => {
    const siteId = siteIds[k];
    if (!attack || !malicious.includes(siteId)) return data;
    const ctx = { rng: new SeededRandom(deriveSeed(seed, 'attack', siteId)), numClasses: data.numClasses, options: attackOpts, collusion, totalSites: options.sites, maliciousSites: maliciousCount };
    if (attack.updateHook) hooks[siteId] = attack.updateHook(ctx);
    return attack.poisonData ? attack.poisonData(data, ctx) : data;
  });
  const labelCounts = Object.fromEntries(clean.map((d, k) => [siteIds[k], classCounts(d)]));
  return {
    config, partition, siteIds, datasets, labelCounts, malicious, attack, attackOpts, hooks, holdout, siteData,
    ...(spam ? { text: readModelText(pretrainedSpamModelDir())!, textRobustness: spamTextRobustness(spam, options.textRobustness), collections: Object.fromEntries(spam.collections.map((c, k) => [siteIds[k], c])) } : {}),
  };
}

/** A federation of virtual sites: nothing made before the run but the config and the (shared) pool. */
function planVirtualSimulation(options: SimulationOptions, siteData: ChosenSiteData, examples: number, attacked: boolean): SimulationPlan {
  if (attacked) throw new FedtuneError('config', '--attack needs --site-data partition (virtual sites hold no data to poison before the run)');
  const config = simulationRunConfig(options, 0, true);
  const partition = options.partition ?? 'dirichlet:0.5';
  const alpha = resampleAlpha(parsePartitionSpec(partition));
  const digits = builtinDigits();
  const virtualSites = new VirtualDigitsSites(digits.pool, { seed: config.seed, examples, alpha, featureShift: options.featureShift });
  return {
    config, partition, siteIds: [], datasets: [], labelCounts: {}, malicious: [], attack: undefined, attackOpts: {}, hooks: {},
    holdout: options.featureShift === false ? digits.holdoutClean : digits.holdout,
    siteData, virtualSites,
  };
}

/** The architecture a simulation runs and the directory of its committed pretrained model. */
function startingModel(options: SimulationOptions): { architecture: string; dir: string } {
  if (options.task === 'spam') {
    if (options.architecture && options.architecture !== 'text-cnn') throw new FedtuneError('config', `the spam task runs the text-cnn model, not "${options.architecture.slice(0, 64)}"`);
    return { architecture: 'text-cnn', dir: pretrainedSpamModelDir() };
  }
  const architecture = options.architecture ?? 'mlp';
  return { architecture, dir: pretrainedModelDir(architecture) };
}

/**
 * The digits task's architecture and partition, checked before anything is loaded (the command checks them
 * before it selects a tfjs backend, so a mistyped value is the one line it prints): typed config errors.
 */
export function checkSimulationInputs(options: Pick<SimulationOptions, 'task' | 'architecture' | 'partition' | 'dropout'>): void {
  if (options.dropout !== undefined && !(options.dropout >= 0 && options.dropout < 1)) throw new FedtuneError('config', `dropout must be in [0, 1), got ${options.dropout}`);
  if (options.task === 'spam') return;
  const architecture = options.architecture ?? 'mlp';
  if (!hasPretrainedModel(architecture)) throw missingPretrainedModelError(architecture);
  if (options.partition !== undefined) parsePartitionSpec(options.partition);
}

/**
 * Runs a whole federation on this machine: one coordinator and `sites` sites, over real socket.io on
 * loopback or over the in-memory network. The same coordinator and site code run either way.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  checkSimulationInputs(options);
  const resolved = resolveSimulationTransport(options.transport, options.sites);
  if (resolved.note) options.onLog?.(resolved.note);
  options = { ...options, transport: resolved.transport };
  const plan = await planSimulation(options);
  const { config, labelCounts, malicious } = plan;
  options.onPlan?.({ config, labelCounts, malicious, partition: plan.partition, siteData: plan.siteData, transport: resolved.transport });
  if (plan.virtualSites) options.onVirtualSites?.(plan.virtualSites);
  const backend = await selectNodeBackend(options.backend);
  return simulateWith(options, plan, backend);
}

/**
 * The simulation's fit threads (`--workers`, fit-pool-options.ts), decided once the starting model is loaded
 * ('auto' weighs its forward cost and the adversarial training of the run's `train` config), with the line
 * that says how the sites train; undefined: on the main thread.
 */
function fitPoolFor(options: SimulationOptions, config: RunConfig, model: tf.LayersModel, backend: string): FitPool | undefined {
  const { workers: asked } = fitPoolOptions({ workers: options.workers });
  const { workers, why } = resolveFitPoolWorkers(asked, { forwardMacsPerExample: forwardMacsPerExample(model), train: config.train, sites: options.sites });
  const fallback = workers > 1 ? fitPoolFallbackReason(backend) : undefined;
  options.onLog?.(workers === 1 ? `training the sites on the main thread (${why})` : fallback ? `training the sites on the main thread: ${fallback}` : `training the sites on ${workers} worker threads (${why})`);
  const pool = workers > 1 && !fallback ? new FitPool(workers, backend) : undefined;
  if (pool) options.onFitPool?.(pool);
  return pool;
}

async function simulateWith(
  options: SimulationOptions,
  { config, attack, attackOpts, holdout, datasets, siteIds, hooks, labelCounts, malicious, partition, textRobustness, collections, siteData, virtualSites, text }: SimulationPlan,
  backend: Awaited<ReturnType<typeof selectNodeBackend>>,
): Promise<SimulationResult> {
  const { architecture, dir } = startingModel(options);
  const probes = attack?.probe ? [attack.probe(holdout, attackOpts)] : [];
  const model = await loadModelDir(dir);
  let pool: FitPool | undefined;
  try {
    pool = fitPoolFor(options, config, model, backend.backend);
  } catch (err) {
    model.dispose();
    throw err;
  }
  try {
    const memory = options.transport === 'memory' ? new MemoryNetwork() : undefined;
    const dropout = options.dropout ?? 0;
    if (dropout > 0 && virtualSites) throw new FedtuneError('config', '--dropout applies to sites made from a partition; virtual sites (--site-data resample:N, or beyond 790 sites) are made only when sampled');
    const coordinator = await startCoordinator({
      runsDir: options.out,
      config,
      model,
      // Sites that drop out rejoin after each drop, more often than the joins a real site's name is allowed (connectionLimits.joinsPerMinute).
      ...(dropout > 0 ? { connectionLimits: { joinsPerMinute: 0 } } : {}),
      architecture,
      holdout,
      // Which built-in holdout, for the saved models' metadata (fedtune evaluate --data digits-holdout takes the same).
      ...(options.task === 'spam' ? {} : { holdoutName: options.featureShift === false ? 'digits-holdout-clean' : 'digits-holdout-scanned' }),
      backend: backend.backend,
      transport: memory ?? 'socket',
      onEvent: options.onEngineEvent,
      probes,
      textRobustness,
      ...(text ? { text } : {}),
      reportExtras: {
        simulation: {
          task: options.task ?? 'digits',
          ...(collections ? { collections } : {}),
          sites: options.sites,
          transport: options.transport,
          partition,
          siteData: { ...siteData.siteData, automatic: siteData.automatic },
          featureShift: options.task !== 'spam' && options.featureShift !== false,
          labelCounts,
          attack: attack ? { name: attack.name, options: attackOpts, malicious } : undefined,
        },
      },
    });
    if (coordinator.url) options.onListening?.(coordinator.url);
    const stop = () => coordinator.requestStop();
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    try {
      const siteRuns: Array<Promise<SiteOutcome>> = virtualSites
        ? runVirtualSites({
            sites: virtualSites,
            range: { first: 0, last: options.sites - 1 },
            connector: () => (memory ? memory.connector() : socketIoConnector({ url: coordinator.url! })),
            backend: backend.backend,
            ...(pool ? { fit: pool.fit } : {}),
            policy: SIMULATED_SITE_POLICY,
            onEvent: options.onSiteEvent,
          })
        : datasets.map((data, k) => {
        const siteId = siteIds[k];
        const server = memory ? memory.connector() : coordinator.url!;
        return runNodeSite({
          siteId,
          server,
          ...(dropout > 0
            ? { connector: droppingConnector(typeof server === 'string' ? socketIoConnector({ url: server }) : server, { siteId, probability: dropout, seed: config.seed }) }
            : {}),
          data,
          splitSeed: siteSplitSeed(config.seed, siteId),
          backend: backend.choice,
          updateHook: hooks[siteId],
          // Text sites hold token ids: they check the run's model brings the vocabulary they were made with.
          ...(text ? { tokenizedWith: vocabularyHashOf(text) } : {}),
          ...(pool ? { fit: pool.fit } : {}),
          // The site keeps its personalised model (never sent); the simulation stores it with the run.
          personalModelDir: join(coordinator.runDir, 'sites', siteId, 'personal'),
          policy: SIMULATED_SITE_POLICY,
          onEvent: options.onSiteEvent ? (e) => options.onSiteEvent!(siteId, e) : undefined,
        });
      });
      const report = await coordinator.done;
      const sites = await Promise.all(siteRuns);
      return { report, reportPath: join(coordinator.runDir, 'report.json'), runDir: coordinator.runDir, backend: backend.backend, sites };
    } finally {
      options.signal?.removeEventListener('abort', stop);
      await coordinator.close();
    }
  } finally {
    // The threads live as long as the simulation: none is left behind to keep the process alive.
    await pool?.close();
  }
}
