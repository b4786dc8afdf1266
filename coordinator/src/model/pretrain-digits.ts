import { join } from 'node:path';
import { evaluateModel, fitLocal, getArchitecture, modelToFiles, DIGITS_TASK } from '@fedtune/shared';
import { builtinDigits, writeFileAtomic } from '@fedtune/shared/node';

export interface PretrainOptions {
  architecture: string;
  outDir: string;
  epochs?: number;
  seed?: number;
}

export interface PretrainResult {
  outDir: string;
  sourceAccuracy: number;
  holdoutAccuracy: number;
  holdoutLoss: number;
  examples: number;
}

/**
 * Trains the base model of the built-in task on the clean "source" slice only (600 digits that no site
 * holds and the holdout does not contain), and writes it as `model.json` + `weights.bin`.
 * Deterministic for a given seed and backend: seeded initializers, seeded shuffling.
 */
export async function pretrainDigits(options: PretrainOptions): Promise<PretrainResult> {
  const { source, holdout } = builtinDigits();
  const seed = options.seed ?? 1;
  const model = getArchitecture(options.architecture).build({ inputShape: source.featureShape, numClasses: DIGITS_TASK.numClasses, seed });
  try {
    await fitLocal(model, source, { epochs: options.epochs ?? 20, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all', seed });
    const onSource = evaluateModel(model, source);
    const onHoldout = evaluateModel(model, holdout);
    const files = await modelToFiles(model, { task: 'digits', architecture: options.architecture, pretrainedOn: 'source', examples: source.y.length, seed });
    writeFileAtomic(join(options.outDir, 'weights.bin'), files.weightsBin);
    writeFileAtomic(join(options.outDir, 'model.json'), JSON.stringify(files.modelJson));
    return { outDir: options.outDir, sourceAccuracy: onSource.accuracy, holdoutAccuracy: onHoldout.accuracy, holdoutLoss: onHoldout.loss, examples: source.y.length };
  } finally {
    model.dispose();
  }
}
