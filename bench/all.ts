/**
 * `npm run bench`: runs every benchmark that declares targets, one after another (each in its own process,
 * so one failing benchmark does not stop the rest), then prints one table of goal → measured from
 * bench/results/*.json and appends it to bench/results/history.jsonl.
 *
 *   npm run bench                 # everything (tens of minutes on 2 cores)
 *   npm run bench -- --only train,aggregation
 *   npm run bench -- --summary    # just the table from the last results
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { appendHistory, collectTargets, formatTargets } from './summary.ts';

/** name → script and arguments; the order runs the cheap ones first. */
const benchmarks: Array<{ name: string; script: string; args?: string[]; node?: string[] }> = [
  { name: 'core', script: 'run.ts', args: ['--quick'] },
  { name: 'aggregation', script: 'aggregation.ts' },
  { name: 'secagg-unmask', script: 'secagg-unmask.ts' },
  { name: 'startup', script: 'startup.ts' },
  { name: 'train', script: 'train.ts' },
  { name: 'workers', script: 'workers.ts' },
  { name: 'load', script: 'load.ts', node: ['--expose-gc'] },
  { name: 'round-persistence', script: 'round-persistence.ts' },
  { name: 'report-growth', script: 'report-growth.ts' },
  { name: 'round-record', script: 'round-record-writes.ts' },
  { name: 'simulate', script: 'simulate-throughput.ts' },
  { name: 'scale', script: 'scale.ts' },
  { name: 'compression', script: 'compression.ts' },
  { name: 'stragglers', script: 'stragglers.ts' },
  { name: 'frame-flood', script: 'frame-flood.ts' },
  { name: 'connection-churn', script: 'connection-churn.ts' },
  { name: 'open-join-churn', script: 'open-join-churn.ts' },
  // Needs DISCO built from its source (bench/disco/build-disco.sh); without it, the fedtune side only.
  { name: 'disco', script: 'disco.ts' },
];

const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new Set((process.argv[onlyAt + 1] ?? '').split(',')) : undefined;
const failed: string[] = [];
if (!process.argv.includes('--summary')) {
  for (const b of benchmarks) {
    if (only && !only.has(b.name)) continue;
    const file = join(import.meta.dirname, b.script);
    if (!existsSync(file)) continue;
    console.log(`\n── ${b.name} (bench/${b.script})`);
    const r = spawnSync(process.execPath, [...(b.node ?? []), '--import', 'tsx', file, ...(b.args ?? [])], { stdio: 'inherit' });
    if (r.status !== 0) failed.push(b.name);
  }
}
const rows = collectTargets();
console.log(`\n${formatTargets(rows)}`);
if (!process.argv.includes('--summary')) appendHistory(rows);
if (failed.length) console.log(`benchmarks that failed: ${failed.join(', ')}`);
