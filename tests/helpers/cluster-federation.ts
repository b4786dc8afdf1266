import { loadModelDir, parseRunConfig, pretrainedModelDir, startClusterNode, type ClusterNode, type RunConfigInput, type SiteTokenStore } from '@fedtune/coordinator';
import { testSitePolicy } from './test-site-policy.ts';
import { deriveSeed, failoverConnector, siteName, SiteClient, socketIoConnector, splitDataset, type ClientConnector, type SiteClientOptions } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { head, tempDir } from './federation.ts';

export interface ClusterFederationOptions {
  redisUrl: string;
  nodes: number;
  sites: number;
  rounds: number;
  seed: number;
  runsDir?: string;
  config?: Partial<RunConfigInput>;
  maxSiteExamples?: number;
  holdoutExamples?: number;
  prefix?: string;
  leaseTtlMs?: number;
  siteOptions?: (siteId: string) => Partial<SiteClientOptions>;
  /** Wraps a site's connector (a hostile site's links, say). */
  wrapConnector?: (siteId: string, connector: ClientConnector) => ClientConnector;
  /** Sites connect to (and fail over between) the first this many nodes only (default: every node). */
  sitesOn?: number;
  /** The cluster secret of node k (0-based; undefined: none). */
  secret?: (k: number) => Uint8Array | undefined;
  /** ClusterOptions of every node (e.g. evaluationTimeoutMs). */
  cluster?: { evaluationTimeoutMs?: number; leaderWeight?: number };
  /** Every site lists the nodes in the same order (node-1 first) instead of starting at node k mod N. */
  sameOrder?: boolean;
  /**
   * The sites offer their other nodes in their hello, so a node above its share sends them on (site placement,
   * cluster/site-placement.ts), as `fedtune client --server URL1,URL2,…` does. Default false: each site stays on
   * the node it reaches first (site k on node k mod N), what the tests about per-node paths rely on.
   */
  offerAlternatives?: boolean;
  /** Site tokens: every node checks hellos against this registry (`fedtune coordinator`'s access options). */
  access?: { store: SiteTokenStore };
}

/** Starts `nodes` in-process coordinator nodes on one Redis, then `sites` real sites, site k on node k mod nodes (failing over to the others). */
export async function startClusterFederation(options: ClusterFederationOptions) {
  const backend = await selectNodeBackend();
  const holdout = head(builtinDigits().holdout, options.holdoutExamples ?? 100);
  const runsDir = options.runsDir ?? tempDir('fedtune-cluster-');
  const config = parseRunConfig({ runId: `cluster-${options.seed}`, rounds: options.rounds, minSites: options.sites, seed: options.seed, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, robustness: { when: 'never' }, ...options.config });
  const nodes: ClusterNode[] = [];
  const logs: string[] = [];
  for (let k = 0; k < options.nodes; k++) {
    nodes.push(
      await startClusterNode({
        cluster: { redisUrl: options.redisUrl, nodeId: `node-${k + 1}`, prefix: options.prefix ?? `test-${options.seed}`, leaseTtlMs: options.leaseTtlMs ?? 10_000, nodeHeartbeatMs: 500, nodeTimeoutMs: 10_000, ...options.cluster },
        server: { runsDir, holdout, architecture: 'mlp', backend: backend.backend, maxMessageBytes: 16 * 1024 * 1024, host: '127.0.0.1', database: false, ...(options.access ? { access: options.access } : {}) },
        config,
        loadModel: () => loadModelDir(pretrainedModelDir('mlp')),
        log: (line) => logs.push(line),
        secret: options.secret?.(k),
      }),
    );
  }
  // Sites that may be sent on join once every node hears the others (placement weighs the nodes heard from).
  if (options.offerAlternatives) {
    const deadline = Date.now() + 30_000;
    while (nodes.some((n) => n.transport.liveNodes().length < nodes.length - 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
  const { clients, siteRuns } = await startClusterSites(nodes.slice(0, options.sitesOn ?? nodes.length).map((n) => n.url), options);
  return { nodes, clients, siteRuns, runsDir, logs, close: () => Promise.all(nodes.map((n) => n.close())) };
}

export interface ClusterSitesOptions {
  sites: number;
  seed: number;
  /** Every site lists the nodes in the same order (the first URL first) instead of starting at node k mod N. */
  sameOrder?: boolean;
  /** The sites offer their other nodes in their hello (site placement); default false: pinned to the first that answers. */
  offerAlternatives?: boolean;
  maxSiteExamples?: number;
  siteOptions?: (siteId: string) => Partial<SiteClientOptions>;
  /** Wraps a site's connector (a hostile site's links, say). */
  wrapConnector?: (siteId: string, connector: ClientConnector) => ClientConnector;
}

/** The connector as is (its other nodes offered in the hello), or without its `alternatives` (the site is never sent on). */
function offered(connector: ClientConnector, offer: boolean): ClientConnector {
  return offer ? connector : { connect: () => connector.connect() };
}

/** Real sites for a cluster: site k connects to node k mod N first and fails over to the others in turn. */
export async function startClusterSites(urls: string[], options: ClusterSitesOptions) {
  const backend = await selectNodeBackend();
  const datasets = builtinDigitsSites({ sites: options.sites, partition: { kind: 'dirichlet', alpha: 1 }, seed: options.seed });
  const clients = datasets.map((full, k) => {
    const siteId = siteName(k);
    const data = options.maxSiteExamples ? head(full, options.maxSiteExamples) : full;
    const order = options.sameOrder ? urls : urls.map((_, i) => urls[(k + i) % urls.length]);
    return new SiteClient({
      siteId,
      connector: (options.wrapConnector ?? ((_id: string, c: ClientConnector) => c))(siteId, offered(failoverConnector(order.map((url) => socketIoConnector({ url }))), options.offerAlternatives === true)),
      data: splitDataset(data, deriveSeed(options.seed, 'split', siteId)),
      backend: backend.backend,
      runtime: 'node',
      reconnect: { retries: 30, baseDelayMs: 100, maxDelayMs: 1_000 },
      policy: testSitePolicy(),
      ...options.siteOptions?.(siteId),
    });
  });
  const siteRuns = clients.map((c) => c.run());
  return { clients, siteRuns };
}
