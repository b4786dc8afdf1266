import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModelDir, pretrainedModelDir, startCoordinator, type RunConfigInput, type RunningCoordinator, type EngineEvent, type StartCoordinatorOptions } from '@fedtune/coordinator';
import { deriveSeed, MemoryNetwork, siteName, SiteClient, socketIoConnector, splitDataset, type ClientConnector, type Dataset, type SiteClientOptions, type SiteEvent, type UpdateHook, SitePolicy, type SitePolicyInput } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { testSitePolicy } from './test-site-policy.ts';

export function tempDir(prefix = 'fedtune-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The first `n` examples of a dataset (keeps tests quick). */
export function head(ds: Dataset, n: number): Dataset {
  const f = ds.featureShape.reduce((a, b) => a * b, 1);
  return { ...ds, x: ds.x.slice(0, n * f), y: ds.y.slice(0, n) };
}

export interface TestFederationOptions {
  sites: number;
  rounds: number;
  /** The sites' ids, in order (default site-1 … site-N). */
  siteIds?: readonly string[];
  seed?: number;
  transport: 'socket' | 'memory';
  runsDir?: string;
  config?: Partial<RunConfigInput>;
  /** Limit each site's data (examples) to keep the test fast. */
  maxSiteExamples?: number;
  holdoutExamples?: number;
  hooks?: Record<string, UpdateHook>;
  onEvent?: (event: EngineEvent) => void;
  onSiteEvent?: (siteId: string, event: SiteEvent) => void;
  /** Let sites reconnect after a dropped connection. */
  reconnect?: boolean;
  /** Extra SiteClient options per site (e.g. a privacy ledger and policy). */
  siteOptions?: (siteId: string) => Partial<SiteClientOptions>;
  /** Wraps a site's connector (e.g. to record what it sends). */
  wrapConnector?: (siteId: string, connector: ClientConnector) => ClientConnector;
  /** Called with the sites before any of them connects (e.g. to have one accept the run's terms). */
  beforeRun?: (clients: SiteClient[]) => void;
  /** Site policies by site id (docs/site-policy.md); every site's allows metrics over its few examples unless it says otherwise (testSitePolicy). */
  policies?: Record<string, SitePolicyInput>;
  /** The coordinator's connection limits (fan-in pacing, hello timeout, …). */
  connectionLimits?: StartCoordinatorOptions['connectionLimits'];
}

/** Starts a coordinator with the committed pretrained model and connects real sites to it. */
export async function startTestFederation(options: TestFederationOptions): Promise<{
  coordinator: RunningCoordinator;
  connector: () => ClientConnector;
  siteRuns: Array<ReturnType<SiteClient['run']>>;
  clients: SiteClient[];
}> {
  const backend = await selectNodeBackend();
  const seed = options.seed ?? 7;
  const holdout = head(builtinDigits().holdout, options.holdoutExamples ?? 500);
  const memory = options.transport === 'memory' ? new MemoryNetwork() : undefined;
  const coordinator = await startCoordinator({
    runsDir: options.runsDir ?? tempDir(),
    model: await loadModelDir(pretrainedModelDir('mlp')),
    architecture: 'mlp',
    holdout,
    backend: backend.backend,
    transport: memory ?? 'socket',
    onEvent: options.onEvent,
    ...(options.connectionLimits ? { connectionLimits: options.connectionLimits } : {}),
    config: { runId: `test-${seed}-${options.transport}`, rounds: options.rounds, minSites: options.sites, seed, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, robustness: { when: 'never' }, ...options.config },
  });
  const connector = () => (memory ? memory.connector() : socketIoConnector({ url: coordinator.url! }));
  const datasets = builtinDigitsSites({ sites: options.sites, partition: { kind: 'dirichlet', alpha: 1 }, seed });
  const clients = datasets.map((full, k) => {
    const siteId = options.siteIds?.[k] ?? siteName(k);
    const data = options.maxSiteExamples ? head(full, options.maxSiteExamples) : full;
    return new SiteClient({
      siteId,
      connector: options.wrapConnector ? options.wrapConnector(siteId, connector()) : connector(),
      ...(coordinator.url ? { modelServer: coordinator.url } : {}),
      data: splitDataset(data, deriveSeed(seed, 'split', siteId)),
      backend: backend.backend,
      runtime: 'node',
      updateHook: options.hooks?.[siteId],
      policy: testSitePolicy(options.policies?.[siteId]),
      reconnect: options.reconnect ? { retries: 5, baseDelayMs: 100 } : undefined,
      onEvent: options.onSiteEvent ? (e) => options.onSiteEvent!(siteId, e) : undefined,
      ...options.siteOptions?.(siteId),
    });
  });
  options.beforeRun?.(clients);
  const siteRuns = clients.map((c) => c.run());
  return { coordinator, connector, siteRuns, clients };
}
