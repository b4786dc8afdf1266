import { splitDataset, type Dataset, type Splits } from '../data/dataset.ts';
import type { TextDataset } from '../data/text-dataset.ts';
import { FedtuneError } from '../errors.ts';
import { vocabularyOfTextSection, type ModelTextSection } from '../messages/model-text-section.ts';
import { TextTokenizer } from '../text/text-tokenizer.ts';

/** A text site's raw texts, split: they stay raw until the run's model brings its vocabulary (docs/text.md#sites-on-their-own-texts). */
export interface TextSplits {
  train: TextDataset;
  validation: TextDataset;
  test: TextDataset;
}

function pick(data: TextDataset, indices: Float32Array): TextDataset {
  return { texts: Array.from(indices, (i) => data.texts[i]!), labels: Int32Array.from(indices, (i) => data.labels[i]!), classNames: [...data.classNames] };
}

/** Seeded train/validation/test split of texts: exactly the split `splitDataset` makes of a Dataset of the same size and seed. */
export function splitTextDataset(data: TextDataset, seed: number, validation = 0.1, test = 0.1): TextSplits {
  if (data.texts.length !== data.labels.length) throw new FedtuneError('data', `${data.texts.length} texts but ${data.labels.length} labels`);
  const n = data.texts.length;
  const indices: Dataset = { x: Float32Array.from({ length: n }, (_, i) => i), y: Int32Array.from(data.labels), featureShape: [1], numClasses: data.classNames.length };
  const split = splitDataset(indices, seed, validation, test);
  return { train: pick(data, split.train.x), validation: pick(data, split.validation.x), test: pick(data, split.test.x) };
}

function labelsOnly(data: TextDataset): Dataset {
  return { x: new Float32Array(0), y: Int32Array.from(data.labels), featureShape: [0], numClasses: data.classNames.length };
}

/** The splits' labels with no features yet: what the site counts (examples, classes) before a model brings a vocabulary. */
export function labelOnlySplits(splits: TextSplits): Splits {
  return { train: labelsOnly(splits.train), validation: labelsOnly(splits.validation), test: labelsOnly(splits.test) };
}

/**
 * The site's texts as token ids with the vocabulary the run's model came with (its 'model' message's text
 * section). A model without one (an image or tabular model) cannot take texts: FedtuneError('data'), one line.
 */
export function tokenizeTextSplits(splits: TextSplits, text: ModelTextSection | undefined, what = 'the data'): Splits {
  if (!text) throw new FedtuneError('data', `${what} is text, but the run's model comes without a vocabulary (not a text model): this site cannot train it`, { shareable: true });
  const tokenizer = new TextTokenizer(vocabularyOfTextSection(text));
  return { train: tokenizer.toDataset(splits.train), validation: tokenizer.toDataset(splits.validation), test: tokenizer.toDataset(splits.test) };
}
