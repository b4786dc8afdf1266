import { Command } from 'commander';
import { pretrainDigits, pretrainedModelDir, pretrainedSpamModelDir, pretrainSpam } from '@fedtune/coordinator';
import { architectures, FedtuneError } from '@fedtune/shared';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { pct } from '../ui/format.ts';
import { choiceOption, intOption } from './options.ts';

export function pretrainCommand(): Command {
  return new Command('pretrain')
    .description('train the base model of a built-in task on its source slice with the committed checkpoint\'s recipe and seed (same holdout accuracy; on wasm the weights match the committed ones to float rounding, ~1e-5, not bit for bit) — by default over the built-in checkpoint: give --out to keep it')
    .option('--task <name>', 'built-in task: digits, or spam (SpamAssassin e-mail, text-cnn with its vocab.json)', choiceOption('task', ['digits', 'spam'] as const), 'digits')
    .option('--arch <name>', 'architecture of the digits task (mlp, cnn, cnn-bn, cnn-dense, cnn-wide); the spam task is always text-cnn', 'mlp')
    .option('--epochs <n>', 'epochs (default: 10 for digits, 3 for spam)', intOption('epochs', 1))
    .option('--seed <n>', 'seed', intOption('seed'), 1)
    .option('--out <dir>', 'output directory (default: the built-in checkpoint directory, which it replaces)')
    .option('--backend <name>', 'tfjs backend (default: fastest available)')
    .action(async (o, command: Command) => {
      // The spam task always trains its text-cnn: --arch would do nothing there (refused, as simulate and coordinator do).
      if (o.task === 'spam' && command.getOptionValueSource('arch') === 'cli') throw new FedtuneError('config', '--arch has no effect with --task spam: the spam task runs its text-cnn');
      // The digits task's architectures: every one but the spam task's text-cnn.
      const digitsArchitectures = Object.keys(architectures).filter((name) => name !== 'text-cnn');
      if (o.task !== 'spam' && !digitsArchitectures.includes(o.arch)) throw new FedtuneError('config', `unknown architecture ${JSON.stringify(String(o.arch).slice(0, 64))} for the digits task (known: ${digitsArchitectures.join(', ')})`);
      console.log(describeBackend(await selectNodeBackend(o.backend)));
      if (o.task === 'spam') {
        const r = await pretrainSpam({ epochs: o.epochs, seed: o.seed, outDir: o.out ?? pretrainedSpamModelDir() });
        console.log(`pretrained text-cnn on ${r.examples} source e-mails (vocabulary ${r.vocabularySize}): source accuracy ${pct(r.sourceAccuracy).trim()}, holdout accuracy ${pct(r.holdoutAccuracy).trim()}`);
        console.log(r.outDir);
        return;
      }
      const r = await pretrainDigits({ architecture: o.arch, epochs: o.epochs ?? 10, seed: o.seed, outDir: o.out ?? pretrainedModelDir(o.arch) });
      console.log(`pretrained ${o.arch} on ${r.examples} source digits: source accuracy ${pct(r.sourceAccuracy).trim()}, holdout accuracy ${pct(r.holdoutAccuracy).trim()}`);
      console.log(r.outDir);
    });
}
