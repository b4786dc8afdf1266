import { FedtuneError } from '../../errors.ts';
import { deriveSeed, SeededRandom } from '../../random/seeded-random.ts';
import type { TextDataset } from '../../data/text-dataset.ts';
import { TEXT_CORRUPTIONS } from './text-corruptions.ts';

export interface TextAugmentationOptions {
  /** Perturbed copies added per text (≥ 1). */
  copies: number;
  /** The rate each copy's corruption is applied at, in (0, 1]. */
  rate: number;
  seed: number;
  /** Words a word insertion draws from (the model's vocabulary without <pad> and <unk>). */
  words: readonly string[];
}

/**
 * Robust fine-tuning data for a text model, made where the texts are (the site): the texts, then `copies`
 * perturbed copies of each, each copy by one text corruption (text-corruptions.ts) drawn uniformly and applied
 * at `rate`, with the original's label. Seeded: the same texts and options give the same copies.
 */
export function augmentTexts<T extends TextDataset>(data: T, options: TextAugmentationOptions): TextDataset {
  if (!Number.isInteger(options.copies) || options.copies < 1 || options.copies > 16) throw new FedtuneError('config', `text augmentation copies must be an integer in 1..16, got ${options.copies}`);
  if (!(options.rate > 0 && options.rate <= 1)) throw new FedtuneError('config', `text augmentation rate must be in (0, 1], got ${options.rate}`);
  const rng = new SeededRandom(deriveSeed(options.seed, 'text-augmentation'));
  const texts = [...data.texts];
  const labels = [...data.labels];
  for (let copy = 0; copy < options.copies; copy++) {
    data.texts.forEach((text, i) => {
      const corruption = TEXT_CORRUPTIONS[rng.int(TEXT_CORRUPTIONS.length)]!;
      texts.push(corruption.apply(text, options.rate, { rng, words: options.words }));
      labels.push(data.labels[i]!);
    });
  }
  return { texts, labels: Int32Array.from(labels), classNames: [...data.classNames] };
}
