// Temporary experiment driver (not committed).
import { runSimulation } from '../cli/src/simulation/run-simulation.ts';
const arg = (k: string, d?: string) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const shift = arg('shift', '0') === '1';
const adv = arg('adv') ? JSON.parse(arg('adv')!) : undefined;
const t = Date.now();
const r = await runSimulation({
  sites: 8, out: '/tmp/advA/runs', transport: 'memory', featureShift: shift, architecture: 'cnn', backend: 'wasm',
  rounds: Number(arg('rounds', '5')), epochs: Number(arg('epochs', '1')), maxExamples: arg('max') ? Number(arg('max')) : undefined,
  learningRate: Number(arg('lr', '0.001')), seed: Number(arg('seed', '42')),
  federatedEvaluation: 'never',
  robustness: { when: 'final', examples: 500, adversarialExamples: Number(arg('advex', '200')), noise: false, corruptions: false, fgsm: JSON.parse(arg('eps', '[0.05,0.1]')!), pgd: JSON.parse(arg('eps', '[0.05,0.1]')!) },
  trainExtras: adv ? { adversarial: adv } : {},
  roundTimeoutMs: 3_600_000,
});
const f = r.report.finalRobustness!;
console.log(JSON.stringify({ args: process.argv.slice(2), secs: (Date.now() - t) / 1000, final: r.report.final?.accuracy, clean: f.clean.accuracy, advClean: f.adversarialCleanAccuracy, fgsm: f.fgsm, pgd: f.pgd.map((p) => [p.eps, p.accuracy]), warnings: f.warnings, rounds: r.report.rounds.map((x: any) => x.accuracy) }));
process.exit(0);
