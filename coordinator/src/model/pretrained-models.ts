import { existsSync, readdirSync } from 'node:fs';
import { architectures, FedtuneError } from '@fedtune/shared';
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

/** The digits task's architectures with a committed checkpoint (what `--arch` can start from), sorted. */
export function pretrainedArchitectures(): string[] {
  const names = existsSync(PRETRAINED_DIR) ? readdirSync(PRETRAINED_DIR) : [];
  return names.filter((n) => n.startsWith('digits-') && hasPretrainedModel(n.slice('digits-'.length))).map((n) => n.slice('digits-'.length)).sort();
}

/**
 * The error for an `--arch` with no pretrained checkpoint: an architecture fedtune does not know is named with
 * the ones it can start from (not sent to `fedtune pretrain`, which does not know it either); a known one without
 * its checkpoint is sent to `fedtune pretrain`.
 */
export function missingPretrainedModelError(architecture: string): FedtuneError {
  const shown = JSON.stringify(architecture.slice(0, 64));
  const known = pretrainedArchitectures().join(', ');
  if (!Object.hasOwn(architectures, architecture) || architecture === 'text-cnn') return new FedtuneError('config', `unknown architecture ${shown} for the digits task (known: ${known})`);
  return new FedtuneError('config', `no pretrained ${architecture} checkpoint: run \`fedtune pretrain --arch ${architecture}\` first (architectures with one: ${known})`);
}
