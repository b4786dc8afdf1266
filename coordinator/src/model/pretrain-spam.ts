import { join } from 'node:path';
import { buildVocabulary, evaluateModel, fitLocal, getArchitecture, modelToFiles, SPAM_TASK, TextTokenizer } from '@fedtune/shared';
import { builtinSpam, writeFileAtomic } from '@fedtune/shared/node';

export interface PretrainSpamOptions {
  outDir: string;
  epochs?: number;
  seed?: number;
}

export interface PretrainSpamResult {
  outDir: string;
  sourceAccuracy: number;
  holdoutAccuracy: number;
  examples: number;
  vocabularySize: number;
}

/**
 * The base model of the built-in spam task: the vocabulary (`vocab.json`) is built from the source slice
 * only (spam-task.ts: easy-ham-1 and spam-1), then a text-cnn is trained on that slice and written with it as
 * `model.json` + `weights.bin` + `vocab.json`. Deterministic for a given seed and backend.
 */
export async function pretrainSpam(options: PretrainSpamOptions): Promise<PretrainSpamResult> {
  const { source, holdout } = builtinSpam();
  const seed = options.seed ?? 1;
  const vocabulary = buildVocabulary(source.texts, { size: SPAM_TASK.vocabularySize, sequenceLength: SPAM_TASK.sequenceLength });
  const tokenizer = new TextTokenizer(vocabulary);
  const train = tokenizer.toDataset(source);
  const model = getArchitecture('text-cnn').build({ inputShape: [vocabulary.sequenceLength], numClasses: SPAM_TASK.classNames.length, seed, vocabularySize: vocabulary.tokens.length });
  try {
    await fitLocal(model, train, { epochs: options.epochs ?? 3, batchSize: 32, learningRate: 0.002, optimizer: 'adam', trainable: 'all', seed });
    const onSource = evaluateModel(model, train);
    const onHoldout = evaluateModel(model, tokenizer.toDataset(holdout));
    const files = await modelToFiles(model, { task: 'spam', architecture: 'text-cnn', pretrainedOn: 'source', examples: train.y.length, seed, classNames: [...SPAM_TASK.classNames] });
    writeFileAtomic(join(options.outDir, 'weights.bin'), files.weightsBin);
    writeFileAtomic(join(options.outDir, 'model.json'), JSON.stringify(files.modelJson));
    writeFileAtomic(join(options.outDir, 'vocab.json'), JSON.stringify(vocabulary));
    return { outDir: options.outDir, sourceAccuracy: onSource.accuracy, holdoutAccuracy: onHoldout.accuracy, examples: train.y.length, vocabularySize: vocabulary.tokens.length };
  } finally {
    model.dispose();
  }
}
