import type { Dataset } from '../data/dataset.ts';
import { fitDatasetToModel, type ModelInterface } from '../data/fit-data-to-model.ts';
import { vocabularyOfTextSection, type ModelTextSection } from '../messages/model-text-section.ts';
import type { TrainConfig } from '../messages/schemas.ts';
import { deriveSeed } from '../random/seeded-random.ts';
import { augmentTexts } from '../robustness/text/augment-texts.ts';
import { TextTokenizer } from '../text/text-tokenizer.ts';
import type { TextSplits } from './text-site-data.ts';

/**
 * A text site's training data for one round of a run with `textAugmentation` (docs/text.md#text-augmentation):
 * its train texts plus `copies` perturbed copies of each (augmentTexts, seeded by the round's seed and the
 * site), tokenized with the run's vocabulary. Undefined when the round asks for none, the site opted out, or
 * the site has no raw texts (a simulation's pre-tokenized data).
 */
export function textAugmentedTrain(options: { config: TrainConfig; textData?: TextSplits; text?: ModelTextSection; siteId: string; model: ModelInterface; optOut?: boolean }): Dataset | undefined {
  const augmentation = options.config.textAugmentation;
  if (!augmentation || options.optOut || !options.textData || !options.text) return undefined;
  const tokenizer = new TextTokenizer(vocabularyOfTextSection(options.text));
  const texts = augmentTexts(options.textData.train, { ...augmentation, seed: deriveSeed(options.config.seed, 'text-augmentation', options.siteId), words: tokenizer.vocabulary.tokens.slice(2) });
  return fitDatasetToModel(tokenizer.toDataset(texts), options.model, `${options.siteId}'s data`);
}
