import { Command } from 'commander';
import { pretrainDigits, pretrainedModelDir } from '@fedtune/coordinator';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { pct } from '../ui/format.ts';
import { intOption } from './options.ts';

export function pretrainCommand(): Command {
  return new Command('pretrain')
    .description('train the base model of the built-in digits task on its clean source slice (reproduces the committed checkpoint)')
    .option('--arch <name>', 'architecture (mlp, cnn, cnn-bn)', 'mlp')
    .option('--epochs <n>', 'epochs', intOption('epochs', 1), 10)
    .option('--seed <n>', 'seed', intOption('seed'), 1)
    .option('--out <dir>', 'output directory (default: the built-in checkpoint directory)')
    .option('--backend <name>', 'tfjs backend (default: fastest available)')
    .action(async (o) => {
      console.log(describeBackend(await selectNodeBackend(o.backend)));
      const r = await pretrainDigits({ architecture: o.arch, epochs: o.epochs, seed: o.seed, outDir: o.out ?? pretrainedModelDir(o.arch) });
      console.log(`pretrained ${o.arch} on ${r.examples} source digits: source accuracy ${pct(r.sourceAccuracy).trim()}, holdout accuracy ${pct(r.holdoutAccuracy).trim()}`);
      console.log(r.outDir);
    });
}
