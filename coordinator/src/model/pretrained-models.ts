import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Directory of the committed pretrained checkpoints (`fedtune pretrain` writes them). */
export const PRETRAINED_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'assets', 'pretrained');

export function pretrainedModelDir(architecture: string): string {
  return join(PRETRAINED_DIR, `digits-${architecture}`);
}

export function hasPretrainedModel(architecture: string): boolean {
  return existsSync(join(pretrainedModelDir(architecture), 'model.json'));
}

/** The committed text model of the built-in spam task (text-cnn, with its `vocab.json`). */
export function pretrainedSpamModelDir(): string {
  return join(PRETRAINED_DIR, 'spam-text-cnn');
}
