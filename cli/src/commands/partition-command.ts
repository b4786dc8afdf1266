import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { classCounts, parsePartitionSpec, partitionKinds } from '@fedtune/shared';
import { builtinDigits, builtinDigitsSites, makeDirectories, writeCsvDataset } from '@fedtune/shared/node';
import { intOption } from './options.ts';

export function partitionCommand(): Command {
  return new Command('partition')
    .description('write the built-in task as one CSV per site (DIR/site-1.csv …) plus the holdout, to run sites as separate processes')
    .option('--task <name>', 'task (digits)', (v) => {
      if (v !== 'digits') throw new InvalidArgumentError('the only built-in task is digits');
      return v;
    }, 'digits')
    .option('--sites <n>', 'number of sites', intOption('sites', 1), 8)
    .option('--partition <spec>', partitionKinds().join(', '), 'dirichlet:0.5')
    .option('--seed <n>', 'seed', intOption('seed'), 42)
    .requiredOption('--out <dir>', 'output directory')
    .action(async (o) => {
      const sites = builtinDigitsSites({ sites: o.sites, partition: parsePartitionSpec(o.partition), seed: o.seed });
      makeDirectories(o.out);
      for (const [k, ds] of sites.entries()) {
        const path = join(o.out, `site-${k + 1}.csv`);
        await writeCsvDataset(path, ds);
        console.log(`${path}: ${ds.y.length} examples, classes ${JSON.stringify(classCounts(ds))}`);
      }
      const holdoutPath = join(o.out, 'holdout.csv');
      await writeCsvDataset(holdoutPath, builtinDigits().holdout);
      console.log(`${holdoutPath}: ${builtinDigits().holdout.y.length} examples (the coordinator's held-out set)`);
    });
}
