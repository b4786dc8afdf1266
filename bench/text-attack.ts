/**
 * `npm run bench:text-attack`: throughput of the word-substitution attack (shared/src/robustness/text) on a
 * model of the text task's size — Embedding(5000, 32) over 200 token ids → Conv1D(64, 5, relu) → global
 * max-pool → Dense(2), seeded random weights — over a 500-example holdout of random token ids (50–200 non-pad
 * tokens each), labelled with the model's own clean predictions so every example is attacked (the slowest
 * case: nothing is skipped as already wrong). Measured in the same run:
 *   - one clean evaluation pass (model.predict over the 500, batches of 100): the baseline;
 *   - the candidate table (nearestNeighbourCandidates, k 8, cosine distance ≤ 1) over the 5000 words;
 *   - evaluateTextAttack at budgets 1, 3, 5 (the report's three rows; one greedy run at the largest budget),
 *     with the default scoring ('dot': the gradient read once per step, float32 dot products for the open
 *     positions) and with the former path ('gather': the candidates' embeddings gathered into a tensor), which
 *     must give the same rows; the speed-up is their ratio;
 *   - wordSubstitutionAttack at budget 5 alone: examples/s.
 * Goal (issue 17): the attack over a 500-example holdout at 3 budgets in ≤ 10 s here; reported with its
 * ratio to the clean pass. Writes bench/results/text-attack.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { evaluateTextAttack, nearestNeighbourCandidates, SeededRandom, wordSubstitutionAttack, type Dataset } from '@fedtune/shared';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';

const VOCAB = 5000;
const SEQ_LEN = 200;
const DIM = 32;
const EXAMPLES = 500;
const BUDGETS = [1, 3, 5];

const loadBefore = loadavg()[0];
const backend = await selectNodeBackend();
console.log(describeBackend(backend));

const model = tf.sequential();
model.add(tf.layers.embedding({ inputDim: VOCAB, outputDim: DIM, inputLength: SEQ_LEN, embeddingsInitializer: tf.initializers.randomNormal({ stddev: 0.3, seed: 1 }) }));
model.add(tf.layers.conv1d({ filters: 64, kernelSize: 5, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
model.add(tf.layers.globalMaxPooling1d());
model.add(tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));

const rng = new SeededRandom(7);
const x = new Float32Array(EXAMPLES * SEQ_LEN);
for (let i = 0; i < EXAMPLES; i++) {
  const len = 50 + rng.int(SEQ_LEN - 49);
  for (let p = 0; p < len; p++) x[i * SEQ_LEN + p] = 2 + rng.int(VOCAB - 2);
}

const seconds = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e9;
const predictAll = () => tf.tidy(() => tf.argMax(model.predict(tf.tensor2d(x, [EXAMPLES, SEQ_LEN]), { batchSize: 100 }) as tf.Tensor, 1).dataSync() as Int32Array);
predictAll(); // warm up
let t = process.hrtime.bigint();
const labels = Int32Array.from(predictAll());
const cleanS = seconds(t);
const data: Dataset = { x, y: labels, featureShape: [SEQ_LEN], numClasses: 2 };

t = process.hrtime.bigint();
const candidates = nearestNeighbourCandidates(model.layers[0].getWeights()[0] as tf.Tensor2D, 8, 1);
const candidatesS = seconds(t);

t = process.hrtime.bigint();
const rows = evaluateTextAttack(model, data, BUDGETS, { candidates });
const attackS = seconds(t);

t = process.hrtime.bigint();
const gatherRows = evaluateTextAttack(model, data, BUDGETS, { candidates, scoring: 'gather' });
const gatherS = seconds(t);
const sameRows = JSON.stringify(gatherRows) === JSON.stringify(rows);
if (!sameRows) console.error('the dot and gather scorings gave different rows', { rows, gatherRows });

t = process.hrtime.bigint();
const single = wordSubstitutionAttack(model, Int32Array.from(x), labels, { budget: 5, candidates });
const budget5S = seconds(t);
const replaced = single.replaced.reduce((a, b) => a + b, 0) / EXAMPLES;

const results = {
  date: new Date().toISOString(),
  node: process.version,
  backend: backend.backend,
  /** 1-minute load average before and after (2 shared cores: a load far above 2 slows every number here). */
  loadAverage: { before: loadBefore, after: loadavg()[0] },
  setup: { vocab: VOCAB, seqLen: SEQ_LEN, dim: DIM, model: 'Embedding → Conv1D(64, 5, relu) → global max-pool → Dense(2), random seeded weights', examples: EXAMPLES, budgets: BUDGETS, candidates: { k: 8, maxCosineDistance: 1 } },
  seconds: { cleanPass: cleanS, candidateTable: candidatesS, attackThreeBudgets: attackS, attackThreeBudgetsGatherScoring: gatherS, attackBudget5: budget5S },
  /** The former ('gather') scoring gives exactly these rows too. */
  sameRowsAsGatherScoring: sameRows,
  rows,
  meanReplacedAtBudget5: replaced,
  targets: [
    { target: 'word-substitution attack over a 500-example holdout at 3 budgets (1, 3, 5), wall time', goal: 10, measured: attackS, unit: 's', met: attackS <= 10 },
    { target: "speed-up of the default scoring ('dot') over the former ('gather'), same attack, same run", goal: null, measured: gatherS / attackS, unit: 'ratio', met: null, note: `gather ${gatherS.toFixed(2)} s, dot ${attackS.toFixed(2)} s, same rows: ${sameRows}` },
    { target: 'the same attack as a ratio to one clean evaluation pass over the 500 examples (same run)', goal: null, measured: attackS / cleanS, unit: 'ratio', met: null, note: `clean pass ${cleanS.toFixed(3)} s` },
    { target: 'attack throughput at budget 5 (seqLen 200, vocab 5k, dim 32)', goal: null, measured: EXAMPLES / budget5S, unit: 'examples/s', met: null },
  ],
};
mkdirSync('bench/results', { recursive: true });
writeFileSync(join('bench/results', 'text-attack.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify({ seconds: results.seconds, rows, targets: results.targets }, null, 2));
model.dispose();
