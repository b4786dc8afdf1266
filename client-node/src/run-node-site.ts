import { join } from 'node:path';
import { FedtuneError, labelOnlySplits, splitTextDataset, type TextDataset, type TextSplits, modelToFiles, SiteClient, type fitLocal, socketIoConnector, splitDataset, deriveSeed, type ClientConnector, type Dataset, type SiteEvent, type SiteOutcome, type UpdateHook, type SiteAdversarialSettings, type Splits, type PrivacyLedger, type SitePolicy, type DataSummaryCounts, type SiteClasses } from '@fedtune/shared';
import { nodeSecAggPrimitives, nodeEd25519Verify, nodeSha256OfChunks, selectNodeBackend, writeFileAtomic } from '@fedtune/shared/node';
import type { ParallelTraining } from './parallel/parallel-options.ts';
import { ParallelTrainer } from './parallel/parallel-trainer.ts';
import { trainingWarmUp } from './warm-up-training.ts';
import { SiteAuditLog } from './site-audit-log.ts';
import { auditedSiteEvents } from './audited-site-events.ts';

/** One warm-up budget per process: the code it compiles is the process's (the sites of `fedtune simulate` share it). */
const PROCESS_WARM_UP = trainingWarmUp();


/** How often a site tries again to reach its coordinator (backoff 0.25 s doubling to 10 s, after 5 s of quick tries at start-up: about 70 s in all) before it gives up. */
export const DEFAULT_RECONNECT_RETRIES = 10;
export interface NodeSiteOptions {
  siteId: string;
  /** Named labels: the site's class names and where they came from, renumbered to the run's (siteClassesOf). */
  siteClasses?: SiteClasses;
  /** Coordinator URL (socket.io) or an explicit connector (e.g. the in-memory network). */
  server: string | ClientConnector;
  /** Connects instead of a connector made from `server` (`fedtune client`: an EarlyConnector opened over it before the data was read); `server` still names the coordinator. */
  connector?: ClientConnector;
  /** The site's examples, or its raw texts (a TextDataset: tokenized with the vocabulary the run's model comes with). */
  data: Dataset | TextDataset;
  token?: string;
  /** Seed of the local train/validation/test split. */
  splitSeed?: number;
  backend?: string;
  onEvent?: (event: SiteEvent) => void;
  updateHook?: UpdateHook;
  /** Reconnect attempts after a dropped connection or an unreachable coordinator (default DEFAULT_RECONNECT_RETRIES, backoff up to 10 s). */
  reconnectRetries?: number;
  /**
   * Where the site saves its personalised model after the final round (model.json + weights.bin), when the
   * run personalises (--personalize). It stays on this machine; without a directory it is kept in memory only.
   */
  personalModelDir?: string;
  /** This site's own adversarial-training settings, over the coordinator's (`fedtune client --adv-*`). */
  adversarial?: SiteAdversarialSettings;
  /** Data-parallel training on worker threads (`fedtune client --workers N --sync-every K`); absent: one thread. */
  parallel?: ParallelTraining;
  /**
   * How the site trains instead of fitLocal in this thread (fitLocal's signature): the simulation passes its
   * FitPool's `fit`, shared by all its sites. Over `parallel`.
   */
  fit?: typeof fitLocal;
  /** Prepares the split data before joining (`--impute`, `--class-weights`: prepareSiteSplits); absent: as split. */
  prepareSplits?: (splits: Splits) => Splits;
  /** Text data: prepares the split texts before joining (`--class-weights`: balanceTextSplits); absent: as split. */
  prepareTextSplits?: (splits: TextSplits) => TextSplits;
  /** The site's persistent privacy ledger (`fedtune client --privacy-ledger FILE`: a FilePrivacyLedger) and its policy's ε limits. */
  privacyLedger?: PrivacyLedger;
  privacyPolicy?: SitePolicy['privacy'];
  /** Lines worth telling the site's operator (e.g. why a fit trains on one thread). */
  onLog?: (line: string) => void;
  /** What this site consents to (`fedtune client --policy FILE`; docs/site-policy.md). */
  policy?: SitePolicy;
  /** Append what this site sends (hashes, counts, metrics; never data) to this JSON-lines file (site-audit-log.ts). */
  auditLog?: string;
  /** The data check's counts, sent once after joining (`--share-data-summary`; shared/src/data/site-data-summary.ts); absent: nothing is sent. */
  dataSummary?: DataSummaryCounts;
  /** false: train on the site's own texts only, whatever the run's textAugmentation (`fedtune client --no-text-augment`). */
  textAugmentation?: boolean;
  /** Token ids made already (the simulation's text sites): the hash of their vocabulary, checked against the run's model (SiteClient's `tokenizedWith`). */
  tokenizedWith?: string;
}

function isTextDataset(data: Dataset | TextDataset): data is TextDataset {
  return 'texts' in data;
}

/** Runs one Node site until its run completes: picks the backend, splits the data, joins and trains. */
export async function runNodeSite(options: NodeSiteOptions): Promise<SiteOutcome> {
  const backend = await selectNodeBackend(options.backend);
  const splitSeed = options.splitSeed ?? deriveSeed(0, 'split', options.siteId);
  const textData = isTextDataset(options.data) ? splitTextDataset(options.data, splitSeed) : undefined;
  if (textData && options.prepareSplits) throw new FedtuneError('config', 'imputing and class weights apply to numeric data here: texts take prepareTextSplits');
  const preparedText = textData && options.prepareTextSplits ? options.prepareTextSplits(textData) : textData;
  const split = preparedText ? labelOnlySplits(preparedText) : splitDataset(options.data as Dataset, splitSeed);
  const data = options.prepareSplits ? options.prepareSplits(split) : split;
  const trainer = !options.fit && options.parallel && options.parallel.workers > 1 ? new ParallelTrainer({ ...options.parallel, backend: backend.backend, onLog: options.onLog }) : undefined;
  const audit = options.auditLog ? new SiteAuditLog(options.auditLog, options.siteId, undefined, options.onLog) : undefined;
  const connector = options.connector ?? (typeof options.server === 'string' ? socketIoConnector({ url: options.server }) : options.server);
  const client = new SiteClient({
    siteId: options.siteId,
    token: options.token,
    connector,
    ...(typeof options.server === 'string' ? { modelServer: options.server } : {}),
    data,
    ...(preparedText ? { textData: preparedText } : {}),
    backend: backend.backend,
    runtime: 'node',
    verifyTermsSignature: nodeEd25519Verify,
    sha256: nodeSha256OfChunks,
    secAggPrimitives: nodeSecAggPrimitives,
    onEvent: audit ? auditedSiteEvents(audit, options.onEvent, options.onLog) : options.onEvent,
    updateHook: options.updateHook,
    reconnect: { retries: options.reconnectRetries ?? DEFAULT_RECONNECT_RETRIES },
    // While the coordinator is not listening yet (launched with this site) and while the site waits for its first instruction, the training path gets compiled.
    whileWaiting: async (signal, phase) => void (await PROCESS_WARM_UP(signal, phase)),
    onPersonalModel: options.personalModelDir
      ? async (model, info) => {
          const files = await modelToFiles(model, { personalized: true, siteId: options.siteId, runId: info.runId, adopted: info.adopted });
          writeFileAtomic(join(options.personalModelDir!, 'weights.bin'), files.weightsBin);
          writeFileAtomic(join(options.personalModelDir!, 'model.json'), JSON.stringify(files.modelJson));
        }
      : undefined,
    ...(options.adversarial ? { adversarial: options.adversarial } : {}),
    ...(options.privacyLedger ? { privacyLedger: options.privacyLedger } : {}),
    ...(options.privacyPolicy ? { privacyPolicy: options.privacyPolicy } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.dataSummary ? { dataSummary: options.dataSummary } : {}),
    ...(options.textAugmentation === false ? { textAugmentation: false } : {}),
    ...(options.tokenizedWith ? { tokenizedWith: options.tokenizedWith } : {}),
    ...(options.siteClasses ? { siteClasses: options.siteClasses } : {}),
    ...(options.fit ? { fit: options.fit } : trainer ? { fit: trainer.fit } : {}),
  });
  try {
    return await client.run();
  } finally {
    // The training threads live as long as the site: none is left behind to keep the process alive.
    await trainer?.close();
  }
}
