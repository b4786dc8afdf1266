import { loadModelDir, pretrainedSpamModelDir, type PartialRunConfigInput, type TextRobustnessEvaluator } from '@fedtune/coordinator';
import { augmentTexts, deriveSeed, evaluateTextRobustness, greedySubstitutionAttack, GREEDY_SUBSTITUTION_DEFAULTS, spamSiteTexts, TextTokenizer, writeModelWeights, type Dataset, type SpamTextDataset, type TextRobustnessOptions } from '@fedtune/shared';
import { builtinSpam, readVocabulary } from '@fedtune/shared/node';

/** The partition of `--task spam` when none is given (`--partition collection` gives each site whole sub-collections). */
export const SPAM_DEFAULT_PARTITION = 'dirichlet:0.5';

/**
 * The spam task's run settings in a simulation, under the command line and `--config` (as the simulation's
 * own minSites is): 3 rounds of 3 local epochs in batches of 16 at learning rate 0.005 — what moves the base
 * model to the new collections within a minute here (docs/text.md).
 */
export const SPAM_SIMULATION_SETTINGS: PartialRunConfigInput = Object.freeze({ rounds: 3, train: { epochs: 3, batchSize: 16, learningRate: 0.005 } });

/** Token ids have no ε: the text task's robustness is its own section (textRobustness), the input-space parts are off. */
export const SPAM_INPUT_ROBUSTNESS_OFF: PartialRunConfigInput = Object.freeze({ robustness: { noise: false, corruptions: false, fgsm: false, pgd: false } });

/** What `fedtune coordinator --task spam` serves: the committed text-cnn, the spam holdout as token ids and the text robustness of the final model. */
export interface SpamCoordinatorTask {
  modelDir: string;
  architecture: 'text-cnn';
  /**
   * The spam holdout as token ids, read (the SpamAssassin corpus parsed and tokenized) on the first call
   * only: a cluster follower never calls it, so it starts without the corpus (docs/cluster.md#lighter-followers).
   */
  loadHoldout: () => Dataset;
  textRobustness: TextRobustnessEvaluator;
  /** Run settings under the command line and --config: as a simulation of the task (SPAM_SIMULATION_SETTINGS), input-space robustness off. */
  settings: PartialRunConfigInput;
}

/** The spam task for a coordinator serving real sites: the same model, holdout and text robustness as `fedtune simulate --task spam`. */
export function spamCoordinatorTask(textRobustness: TextRobustnessOptions = {}): SpamCoordinatorTask {
  const modelDir = pretrainedSpamModelDir();
  const tokenizer = new TextTokenizer(readVocabulary(modelDir));
  let holdout: Dataset | undefined;
  // The corpus is read when a leader first needs the holdout (or its texts, at the run's end), never before.
  const lazyTexts = { tokenizer, get holdoutTexts() { return builtinSpam().holdout; } };
  return {
    modelDir,
    architecture: 'text-cnn',
    loadHoldout: () => (holdout ??= tokenizer.toDataset(builtinSpam().holdout)),
    textRobustness: spamTextRobustness(lazyTexts, textRobustness),
    settings: { ...SPAM_INPUT_ROBUSTNESS_OFF, ...SPAM_SIMULATION_SETTINGS },
  };
}

/** The built-in spam task's federation data: the sites' token-id datasets and the coordinator's holdout (ids and raw texts). */
export interface SpamSimulationData {
  tokenizer: TextTokenizer;
  datasets: Dataset[];
  /** Per site, how many e-mails of each collection it holds (the report's `simulation.collections`). */
  collections: Array<Record<string, number>>;
  holdout: Dataset;
  holdoutTexts: SpamTextDataset;
}

/**
 * Tokenizes the spam task with the committed model's vocabulary (`vocab.json` next to it): each site's
 * share of the pool (spam-task.ts) and the coordinator's holdout, whose raw texts stay with the coordinator
 * for the text robustness evaluation.
 */
export function spamSimulationData(options: { sites: number; partition: string; seed: number; maxSiteExamples?: number; augmentation?: { copies: number; rate: number } }): SpamSimulationData {
  const tokenizer = new TextTokenizer(readVocabulary(pretrainedSpamModelDir()));
  const { holdout, pool } = builtinSpam();
  const shares = spamSiteTexts(pool, options);
  const words = tokenizer.vocabulary.tokens.slice(2);
  // Robust fine-tuning: each site adds perturbed copies of its own e-mails (its texts never leave it).
  const trained = options.augmentation ? shares.map((s, k) => augmentTexts(s, { ...options.augmentation!, seed: deriveSeed(options.seed, 'site', k), words })) : shares;
  return {
    tokenizer,
    datasets: trained.map((s) => tokenizer.toDataset(s)),
    collections: shares.map((s) => s.collections.reduce<Record<string, number>>((acc, c) => ({ ...acc, [c]: (acc[c] ?? 0) + 1 }), {})),
    holdout: tokenizer.toDataset(holdout),
    holdoutTexts: holdout,
  };
}

/**
 * The coordinator's text robustness evaluation of the spam task's global model: a fresh copy of the committed
 * model takes the weights, then `evaluateTextRobustness` on the holdout texts (the corruptions and, by default,
 * the greedy word-substitution attack at budgets 1, 2 and 4 words) on `run.examples` holdout texts when the run
 * says (--robustness-examples), else `options.examples` (default 300), seeded by `run.seed` (robustness.seed) when
 * given; the copy is disposed after.
 */
export function spamTextRobustness(data: Pick<SpamSimulationData, 'tokenizer' | 'holdoutTexts'>, options: TextRobustnessOptions = {}): TextRobustnessEvaluator {
  return async (weights, run = {}) => {
    const model = await loadModelDir(pretrainedSpamModelDir());
    try {
      writeModelWeights(model, weights);
      // The word-substitution attack per budget is part of the report unless the options say otherwise.
      const substitution = { attack: greedySubstitutionAttack(), budgets: GREEDY_SUBSTITUTION_DEFAULTS.budgets };
      // The run's --robustness-examples (robustness.examples) bounds the holdout texts and its robustness.seed seeds
      // them, over these options' defaults.
      return await evaluateTextRobustness(model, data.holdoutTexts, data.tokenizer, { substitution, ...options, ...(run.examples !== undefined ? { examples: run.examples } : {}), ...(run.seed !== undefined ? { seed: run.seed } : {}) });
    } finally {
      model.dispose();
    }
  };
}
