// Temporary analysis (not committed): PGD-40 at 0.06 of the mean of a window of a run's per-round models.
import * as tf from '@tensorflow/tfjs';
import { loadModelDir } from '@fedtune/coordinator';
import { evaluateRobustness } from '@fedtune/shared';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
await selectNodeBackend();
const [runDir, ...windows] = process.argv.slice(2);
const holdout = builtinDigits().holdout;
for (const w of windows) {
  const [a, b] = w.split('-').map(Number);
  let sum: Float64Array[] | undefined;
  let model: tf.LayersModel | undefined;
  for (let r = a; r <= b; r++) {
    const m = await loadModelDir(`${runDir}/models/round-${r}`);
    const ws = m.getWeights().map((t) => t.dataSync() as Float32Array);
    sum ??= ws.map((x) => new Float64Array(x.length));
    ws.forEach((x, i) => { for (let j = 0; j < x.length; j++) sum![i][j] += x[j]; });
    if (model) m.dispose(); else model = m;
  }
  const k = b - a + 1;
  model!.setWeights(model!.getWeights().map((t, i) => tf.tensor(Float32Array.from(sum![i], (v) => v / k), t.shape)));
  const rep = await evaluateRobustness(model!, holdout, { examples: 1000, adversarialExamples: 1000, noise: false, corruptions: false, fgsm: false, pgd: [0.06], seed: 0 });
  console.log(`window ${w}: clean ${rep.clean.accuracy}, PGD-40@0.06 ${rep.pgd[0].accuracy}`);
  model!.dispose();
}
