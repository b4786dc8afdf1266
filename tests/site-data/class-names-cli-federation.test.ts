import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { modelToFiles, SeededRandom, type RunReport } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { tempDir } from '../helpers/federation.ts';
import { fedtune, fedtuneCoordinator } from '../helpers/fedtune-cli.ts';

const CLASSES = ['cat', 'dog', 'fox'];

/** A row of class `k`: feature k is high, the others low (with noise). */
function row(random: SeededRandom, k: number): string[] {
  return CLASSES.map((_, j) => ((j === k ? 1 : 0) + random.uniform(-0.2, 0.2)).toFixed(3));
}

describe('named labels are numbered by the run\'s class names (--class-names)', () => {
  it('from the CLI: a site missing a class trains aligned with its peer, and a site with an unknown label refuses the terms', async () => {
    const dir = tempDir();
    const random = new SeededRandom(3);
    // site-1 has all three classes; site-2 has no "cat", so sorting its own names would number dog 0 and fox 1.
    const siteCsv = (name: string, classes: number[]) => {
      const lines = Array.from({ length: 42 }, (_, i) => classes[i % classes.length]).map((k) => [CLASSES[k], ...row(random, k)].join(','));
      writeFileSync(join(dir, name), `label,a,b,c\n${lines.join('\n')}\n`);
    };
    siteCsv('site-1.csv', [0, 1, 2]);
    siteCsv('site-2.csv', [1, 2, 1, 2, 1, 2, 1]);
    writeFileSync(join(dir, 'site-3.csv'), `label,a,b,c\ncat,1,0,0\nwolf,0,0,1\n`);
    const holdout = Array.from({ length: 90 }, (_, i) => [i % 3, ...row(random, i % 3)].join(','));
    writeFileSync(join(dir, 'holdout.csv'), `label,a,b,c\n${holdout.join('\n')}\n`);
    await selectNodeBackend();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) })] });
    const files = await modelToFiles(model);
    model.dispose();
    mkdirSync(join(dir, 'model'));
    writeFileSync(join(dir, 'model', 'model.json'), JSON.stringify(files.modelJson));
    writeFileSync(join(dir, 'model', 'weights.bin'), files.weightsBin);

    const coordinator = fedtuneCoordinator(['--port', '0', '--host', '127.0.0.1', '--model', join(dir, 'model'), '--holdout', join(dir, 'holdout.csv'), '--rounds', '3', '--min-sites', '2', '--epochs', '5', '--lr', '0.3', '--optimizer', 'sgd', '--out', join(dir, 'runs'), '--run-id', 'classes', '--federated-eval', 'never', '--robustness', 'never', '--class-names', CLASSES.join(',')]);
    const url = await coordinator.url;
    if (!url) throw new Error(`coordinator exited: ${(await coordinator.done).stderr}`);
    // The site with a label the run does not name refuses the terms (before the run starts: it never counts as joined).
    const refused = await fedtune(['client', '--server', url, '--site', 'site-3', '--data', join(dir, 'site-3.csv')]).done;
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toContain(`refused the run's terms: ${join(dir, 'site-3.csv')}: label "wolf" is not a class of this run (its classes: cat, dog, fox)`);
    expect(refused.stdout + refused.stderr).not.toMatch(/\n\s+at /);

    const results = await Promise.all(['site-1', 'site-2'].map((site) => fedtune(['client', '--server', url, '--site', site, '--data', join(dir, `${site}.csv`), ...(site === 'site-2' ? ['--share-data-summary'] : [])]).done));
    const c = await coordinator.done;
    expect(c.code, c.stderr + c.stdout).toBe(0);
    for (const r of results) expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(results[0].stdout).toContain("labels numbered by the run's classes: 0=cat, 1=dog, 2=fox\n");
    expect(results[1].stdout).toContain('classes (sorted label names): 0=dog, 1=fox');
    expect(results[1].stdout).toContain("labels numbered by the run's classes: 0=cat, 1=dog, 2=fox; warning: this site has no example of cat");
    const report = JSON.parse(readFileSync(join(dir, 'runs', 'classes', 'report.json'), 'utf8')) as RunReport;
    // The coordinator heard only that a label is not a class of the run: not which one, nor the site's file.
    expect(report.termsRefusals!.sites.map((s) => s.reason)).toEqual([expect.stringContaining("a label in this site's data is not a class of this run (the site's own log says which)")]);
    for (const file of ['report.json', 'audit.jsonl']) expect(readFileSync(join(dir, 'runs', 'classes', file), 'utf8')).not.toMatch(/wolf|site-3\.csv/);
    expect(c.stdout + c.stderr).not.toMatch(/wolf|site-3\.csv/);
    expect(report.status).toBe('complete');
    // The holdout's integer labels are the run's indices: a misaligned site-2 (dog as 0 = cat) would pull this down.
    expect(report.final!.accuracy).toBeGreaterThan(0.9);
    // Its shared data summary counts per class in the run's order (dog 24, fox 18; no cat), so totals add like with like.
    expect(report.dataSummaries!.sites.map((x) => [x.siteId, x.labelCounts])).toEqual([['site-2', [0, 24, 18]]]);
  }, 300_000);
});
