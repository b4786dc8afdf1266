import { randomBytes } from 'node:crypto';
import { startCoordinator, loadModelDir, pretrainedModelDir, hasPretrainedModel, type EngineEvent, type RunConfigInput } from '@fedtune/coordinator';
import { runNodeSite } from '@fedtune/client-node';
import { deriveSeed, FedtuneError, MemoryNetwork, parsePartitionSpec, siteName, type RunReport, type SiteEvent, type SiteOutcome } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { join } from 'node:path';

export interface SimulationOptions {
  sites: number;
  rounds: number;
  seed: number;
  /** Root directory of runs; the report lands at `<out>/<runId>/report.json`. */
  out: string;
  transport: 'socket' | 'memory';
  partition?: string;
  architecture?: string;
  fraction?: number;
  quorum?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  optimizer?: 'sgd' | 'momentum' | 'adam';
  trainable?: 'all' | 'head' | number;
  maxExamples?: number;
  federatedEvaluation?: 'never' | 'final' | 'every-round';
  roundTimeoutMs?: number;
  backend?: string;
  runId?: string;
  onEngineEvent?: (event: EngineEvent) => void;
  onSiteEvent?: (siteId: string, event: SiteEvent) => void;
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
export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Runs a whole federation on this machine: one coordinator and `sites` sites, over real socket.io on
 * loopback or over the in-memory network. The same coordinator and site code run either way.
 */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const architecture = options.architecture ?? 'mlp';
  if (!hasPretrainedModel(architecture)) {
    throw new FedtuneError('config', `no pretrained ${architecture} checkpoint: run \`fedtune pretrain --arch ${architecture}\` first`);
  }
  const backend = await selectNodeBackend(options.backend);
  const { holdout } = builtinDigits();
  const datasets = builtinDigitsSites({ sites: options.sites, partition: parsePartitionSpec(options.partition ?? 'dirichlet:0.5'), seed: options.seed });
  const model = await loadModelDir(pretrainedModelDir(architecture));
  const memory = options.transport === 'memory' ? new MemoryNetwork() : undefined;
  const config: RunConfigInput = {
    runId: options.runId ?? newRunId(),
    rounds: options.rounds,
    minSites: options.sites,
    fraction: options.fraction ?? 1,
    quorum: options.quorum ?? 0.5,
    seed: options.seed,
    roundTimeoutMs: options.roundTimeoutMs ?? 600_000,
    joinTimeoutMs: 120_000,
    federatedEvaluation: options.federatedEvaluation ?? 'final',
    train: {
      epochs: options.epochs ?? 1,
      batchSize: options.batchSize ?? 32,
      learningRate: options.learningRate ?? 0.001,
      optimizer: options.optimizer ?? 'adam',
      trainable: options.trainable ?? 'all',
      ...(options.maxExamples ? { maxExamples: options.maxExamples } : {}),
    },
  };
  const coordinator = await startCoordinator({
    runsDir: options.out,
    config,
    model,
    architecture,
    holdout,
    backend: backend.backend,
    transport: memory ?? 'socket',
    onEvent: options.onEngineEvent,
  });
  if (coordinator.url) options.onListening?.(coordinator.url);
  try {
    const siteRuns = datasets.map((data, k) => {
      const siteId = siteName(k);
      return runNodeSite({
        siteId,
        server: memory ? memory.connector() : coordinator.url!,
        data,
        splitSeed: deriveSeed(options.seed, 'split', siteId),
        backend: backend.choice,
        onEvent: options.onSiteEvent ? (e) => options.onSiteEvent!(siteId, e) : undefined,
      });
    });
    const report = await coordinator.done;
    const sites = await Promise.all(siteRuns);
    return { report, reportPath: join(coordinator.runDir, 'report.json'), runDir: coordinator.runDir, backend: backend.backend, sites };
  } finally {
    await coordinator.close();
  }
}
