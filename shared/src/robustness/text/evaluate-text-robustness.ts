import type * as tf from '@tensorflow/tfjs';
import type { TextDataset } from '../../data/text-dataset.ts';
import { FedtuneError } from '../../errors.ts';
import { evaluateModel } from '../../learning/evaluate-model.ts';
import { deriveSeed, SeededRandom } from '../../random/seeded-random.ts';
import type { TextTokenizer } from '../../text/text-tokenizer.ts';
import { DEFAULT_TEXT_SEVERITIES, getTextCorruption, TEXT_CORRUPTIONS, type TextCorruption } from './text-corruptions.ts';
import type { TextRobustnessReport } from './text-robustness-report.ts';

/**
 * A word-substitution attack on token ids (n × sequenceLength) with at most `budgets[q]` words changed per text;
 * returns the model's accuracy on the attacked texts at each budget, in order (one greedy run can serve every
 * budget: evaluateTextAttack). Provided by the attack module (shared/src/robustness/text).
 */
export type SubstitutionAttackFn = (model: tf.LayersModel, ids: Int32Array, labels: Int32Array, budgets: readonly number[]) => Promise<number[]> | number[];

export interface TextRobustnessOptions {
  /** Texts evaluated: a seeded sample of the data (all if fewer). Default 300. */
  examples?: number;
  /** Seeds the sample and every corruption (per corruption, severity and text). Default 0. */
  seed?: number;
  /** Corruption names (default: all of TEXT_CORRUPTIONS). */
  corruptions?: readonly string[];
  /** Rates each corruption is applied at (default DEFAULT_TEXT_SEVERITIES). */
  severities?: readonly number[];
  /** A word-substitution attack and the budgets to run it at; absent: no `substitution` section. */
  substitution?: { attack: SubstitutionAttackFn; budgets: readonly number[] };
}

export const TEXT_ROBUSTNESS_DEFAULTS = { examples: 300, seed: 0 } as const;

/**
 * Accuracy of a text model on `data`, clean and under each text corruption (text-corruptions.ts) at each
 * severity: every text is perturbed as raw text with its own seeded generator, then tokenized with the
 * model's `tokenizer`. The same model, data and options give the same report. Leaks no tensors.
 */
export async function evaluateTextRobustness(model: tf.LayersModel, data: TextDataset, tokenizer: TextTokenizer, options: TextRobustnessOptions = {}): Promise<TextRobustnessReport> {
  const seed = options.seed ?? TEXT_ROBUSTNESS_DEFAULTS.seed;
  const want = options.examples ?? TEXT_ROBUSTNESS_DEFAULTS.examples;
  if (!Number.isInteger(want) || want < 1) throw new FedtuneError('config', `text robustness examples must be a positive integer, got ${want}`);
  const severities = [...(options.severities ?? DEFAULT_TEXT_SEVERITIES)];
  for (const s of severities) if (!(s >= 0 && s <= 1)) throw new FedtuneError('config', `a text corruption severity is a rate in [0, 1], got ${s}`);
  const corruptions: TextCorruption[] = options.corruptions ? options.corruptions.map(getTextCorruption) : [...TEXT_CORRUPTIONS];
  const n = data.texts.length;
  const order = new SeededRandom(deriveSeed(seed, 'text-sample')).shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, Math.min(want, n));
  const texts = order.map((i) => data.texts[i]!);
  const labels = Int32Array.from(order, (i) => data.labels[i]!);
  const accuracyOf = (batch: string[]) =>
    evaluateModel(model, { x: tokenizer.encodeAll(batch), y: labels, featureShape: [tokenizer.sequenceLength], numClasses: data.classNames.length }).accuracy;
  const words = tokenizer.vocabulary.tokens.slice(2);
  const clean = accuracyOf(texts);
  const rows = corruptions.map((c) => ({
    name: c.name,
    description: c.description,
    severities: severities.map((severity) => ({
      severity,
      accuracy: accuracyOf(texts.map((t, i) => c.apply(t, severity, { rng: new SeededRandom(deriveSeed(seed, c.name, Math.round(severity * 1e6), i)), words }))),
    })),
  }));
  const cells = rows.flatMap((r) => r.severities.map((s) => ({ name: r.name, ...s })));
  const worst = cells.reduce<(typeof cells)[number] | undefined>((w, c) => (w === undefined || c.accuracy < w.accuracy ? c : w), undefined);
  let substitution: TextRobustnessReport['substitution'];
  if (options.substitution) {
    const ids = new Int32Array(tokenizer.encodeAll(texts));
    const asked = options.substitution.budgets;
    const accuracies = await options.substitution.attack(model, ids, labels, asked);
    if (accuracies.length !== asked.length) throw new FedtuneError('config', `the substitution attack returned ${accuracies.length} accuracies for ${asked.length} budgets`);
    substitution = { budgets: asked.map((budget, q) => ({ budget, accuracy: accuracies[q]! })) };
  }
  return {
    examples: texts.length,
    seed,
    clean: { accuracy: clean },
    corruptions: rows,
    meanCorruptedAccuracy: cells.length ? cells.reduce((s, c) => s + c.accuracy, 0) / cells.length : clean,
    ...(worst ? { worst } : {}),
    ...(substitution ? { substitution } : {}),
  };
}
