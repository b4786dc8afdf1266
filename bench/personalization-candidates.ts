/**
 * `npx tsx bench/personalization-candidates.ts [SEED…]` (default 42 7 2024): how much of "personalised ≥ local-only on
 * every site" a test split of 25–185 digits can decide. One default federation per seed (8 sites, 10 rounds, the
 * MLP), then at every site, from the final global model or the pretrained one, fixed fine-tunes (no selection):
 * the local-only baseline as the site report trains it (10 epochs from the pretrained model, best epoch on
 * validation: `localES10`), local-only without early stopping and on train ∪ validation, and a second local-only
 * model that differs from another only in its seed (`local10pool` vs `local10poolB`: the noise floor — two
 * equally good models), fine-tunes of the global model (all layers, head, Ditto, 5/10/20 epochs), their mixes
 * with the global model and soups. Prints and writes, per candidate, the mean test accuracy over the sites and on
 * how many sites it is ≥ the local-only baseline, and the worst site's margin.
 * Writes bench/results/personalization-candidates.json.
 */
import { writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatDatasets, evaluateModel, fitLocal, parsePartitionSpec, readModelWeights, siteName, splitDataset, writeModelWeights, type WeightArrays } from '@fedtune/shared';
import { builtinDigitsSites, selectNodeBackend } from '@fedtune/shared/node';
import { loadModelDir, pretrainedModelDir } from '@fedtune/coordinator';
import { siteSplitSeed } from '@fedtune/client-node';
import { runSimulation } from '../cli/src/simulation/run-simulation.ts';
import { interpolateWeights } from '@fedtune/shared';

await selectNodeBackend();
const seeds = process.argv.slice(2).length ? process.argv.slice(2).map(Number) : [42, 7, 2024];
const results: Array<{ seed: number; sites: number[]; candidates: Record<string, { mean: number; atLeastLocalOnly: number; worstMargin: number; perSite: number[] }> }> = [];
for (const seed of seeds) {
  const out = join(mkdtempSync(join(tmpdir(), 'fedtune-bench-pcand-')), 'runs');
  const { report, runDir } = await runSimulation({ sites: 8, rounds: 10, seed, out, transport: 'memory', architecture: 'mlp', robustness: { when: 'never' }, federatedEvaluation: 'never', config: {} });
  const config = report.config as { seed: number; train: Record<string, unknown> };
  const train = config.train;
  const model = await loadModelDir(join(runDir, 'models', 'round-10'));
  const global = readModelWeights(model).arrays;
  const pre = await loadModelDir(pretrainedModelDir('mlp'));
  const pretrained = readModelWeights(pre).arrays;
  const datasets = builtinDigitsSites({ sites: 8, partition: parsePartitionSpec('dirichlet:0.5'), seed: config.seed, featureShift: true });
  const base = { ...train, earlyStopping: undefined, dpSgd: undefined };
  const rows: Record<string, number[]> = {};
  const testSizes: number[] = [];
  const add = (k: string, v: number) => (rows[k] ??= []).push(v);
  for (let k = 0; k < 8; k++) {
    const s = splitDataset(datasets[k], siteSplitSeed(config.seed, siteName(k)));
    const pool = concatDatasets([s.train, s.validation]);
    testSizes.push(s.test.y.length);
    const acc = () => evaluateModel(model, s.test).accuracy;
    const run = async (name: string, start: WeightArrays, data: any, cfg: any, opts: any = {}) => {
      writeModelWeights(model, start);
      await fitLocal(model, data, { ...base, ...cfg }, undefined, opts);
      const a = acc();
      add(name, a);
      return readModelWeights(model).arrays;
    };
    writeModelWeights(model, global); add('global', acc());
    const lES = await run('localES10', pretrained, s.train, { epochs: 10, earlyStopping: { patience: 10 }, seed: 1 }, { validation: s.validation });
    await run('local10', pretrained, s.train, { epochs: 10, seed: 1 });
    await run('local10pool', pretrained, pool, { epochs: 10, seed: 1 });
    const f5 = await run('full5pool', global, pool, { epochs: 5, trainable: 'all', seed: 2 });
    await run('full5', global, s.train, { epochs: 5, trainable: 'all', seed: 2 });
    const f10 = await run('full10pool', global, pool, { epochs: 10, trainable: 'all', seed: 2 });
    const fES = await run('fullES10', global, s.train, { epochs: 10, trainable: 'all', earlyStopping: { patience: 10 }, seed: 2 }, { validation: s.validation });
    const h5 = await run('head5pool', global, pool, { epochs: 5, trainable: 'head', seed: 2 });
    const d5 = await run('ditto5pool', global, pool, { epochs: 5, trainable: 'all', proximalMu: 0.1, seed: 2 });
    writeModelWeights(model, interpolateWeights(f5, global, 0.75)); add('mix75f5pool', acc());
    writeModelWeights(model, interpolateWeights(f10, global, 0.75)); add('mix75f10pool', acc());
    await run('full20pool', global, pool, { epochs: 20, trainable: 'all', seed: 2 });
    const soup = f5.map((w, i) => w.map((v, j) => (v + fES[i][j] + d5[i][j] + h5[i][j]) / 4));
    writeModelWeights(model, soup); add('soup4', acc());
    writeModelWeights(model, interpolateWeights(f5, lES, 0.5)); add('mixF5L50', acc());
    writeModelWeights(model, interpolateWeights(f5, lES, 0.75)); add('mixF5L75', acc());
    writeModelWeights(model, interpolateWeights(f10, lES, 0.5)); add('mixF10L50', acc());
    const lP = await run('local10poolB', pretrained, pool, { epochs: 10, seed: 3 });
    writeModelWeights(model, interpolateWeights(f5, lP, 0.5)); add('mixF5LP50', acc());
    console.log(`seed ${seed} site ${k}`, s.test.y.length, Object.entries(rows).map(([n, v]) => `${n}=${(100 * v[k]).toFixed(1)}`).join(' '));
  }
  const ref = rows.localES10;
  const candidates: (typeof results)[number]['candidates'] = {};
  console.log(`seed ${seed}`);
  for (const [n, v] of Object.entries(rows)) {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const wins = v.filter((x, i) => x >= ref[i] - 1e-9).length;
    const worst = Math.min(...v.map((x, i) => x - ref[i]));
    candidates[n] = { mean, atLeastLocalOnly: wins, worstMargin: worst, perSite: v };
    console.log(`${n.padEnd(14)} mean ${(100 * mean).toFixed(2)}  ≥ local-only (localES10) on ${wins}/8  worst ${(100 * worst).toFixed(1)}`);
  }
  results.push({ seed, sites: testSizes, candidates });
  model.dispose();
  pre.dispose();
}
writeFileSync('bench/results/personalization-candidates.json', JSON.stringify({ bench: 'personalization-candidates', date: new Date().toISOString(), rounds: 10, sites: 8, architecture: 'mlp', seeds, baseline: 'localES10', results }, null, 2));
