/**
 * Cost of one aggregation per strategy: N updates (default 10) of 1M parameters in four tensors, against
 * Float32Array.prototype.set copying the same bytes (every update's tensors once) and against FedAvg, in
 * the same run. Prints a table and one JSON line.
 * Run: npx tsx bench/strategies.ts [--updates 20] [--repeats 5]
 */
import { SeededRandom } from '../shared/src/random/seeded-random.ts';
import { getStrategy, strategyNames } from '../shared/src/strategies/registry.ts';
import type { WeightedUpdate } from '../shared/src/strategies/strategy.ts';
import type { WeightArrays } from '../shared/src/weights.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg('updates', 10);
const REPEATS = arg('repeats', 5);
const SIZES = [600_000, 300_000, 99_000, 1_000]; // 1M parameters
const PARAMS = SIZES.reduce((a, b) => a + b, 0);

/** Byzantine budget used for the robust strategies: 20% of the sites, within each rule's limit. */
const fFor = (limit: number) => Math.max(0, Math.min(Math.floor(0.2 * N), limit));
const options: Record<string, Record<string, unknown>> = {
  fedtrimmedavg: { beta: 0.2 },
  krum: { f: fFor(Math.floor((N - 3) / 2)) },
  multikrum: { f: fFor(Math.floor((N - 3) / 2)) },
  bulyan: { f: fFor(Math.floor((N - 3) / 4)) },
};

function makeFederation(): { global: WeightArrays; updates: WeightedUpdate[] } {
  const rng = new SeededRandom(7);
  // Uniform noise is enough here and much faster to draw than normals.
  const global = SIZES.map((n) => Float32Array.from({ length: n }, () => rng.uniform(-1, 1)));
  const updates = Array.from({ length: N }, (_, k) => ({
    siteId: `site-${String(k).padStart(2, '0')}`,
    weights: global.map((g) => g.map((v) => v + 1e-3 * rng.uniform(-1, 1))),
    numExamples: 100 + 10 * k,
  }));
  return { global, updates };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function time(fn: () => unknown): number {
  fn(); // warm up (JIT)
  const ms: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const { global, updates } = makeFederation();

// Baseline: copy every update's tensors once into a destination of the same size.
const dest = SIZES.map((n) => new Float32Array(n));
const copyMs = time(() => {
  for (const u of updates) for (let t = 0; t < SIZES.length; t++) dest[t].set(u.weights[t]);
});

const results: Array<{ name: string; options: Record<string, unknown>; ms: number; vsCopy: number; vsFedavg: number }> = [];
for (const name of strategyNames) {
  const s = getStrategy(name);
  const opts = options[name] ?? {};
  // Time a steady-state round: stateful strategies get the state left by one earlier round.
  const state = s.aggregate(global, updates, s.initialState(opts), opts).state;
  const ms = time(() => s.aggregate(global, updates, state, opts));
  results.push({ name, options: opts, ms, vsCopy: ms / copyMs, vsFedavg: 0 });
}
const fedavgMs = results.find((r) => r.name === 'fedavg')!.ms;
for (const r of results) r.vsFedavg = r.ms / fedavgMs;

const mb = (N * PARAMS * 4) / 1e6;
console.log(`${N} updates × ${PARAMS.toLocaleString('en')} parameters (${mb.toFixed(0)} MB read per aggregation), median of ${REPEATS}, node ${process.version}`);
console.log(`baseline Float32Array.prototype.set of the same bytes: ${copyMs.toFixed(2)} ms (${(mb / copyMs).toFixed(1)} GB/s)\n`);
const pad = (s: string, n: number) => s.padEnd(n);
const lpad = (s: string, n: number) => s.padStart(n);
console.log(`${pad('strategy', 14)}${lpad('ms', 10)}${lpad('× copy', 10)}${lpad('× fedavg', 10)}  options`);
for (const r of results) {
  console.log(
    `${pad(r.name, 14)}${lpad(r.ms.toFixed(1), 10)}${lpad(r.vsCopy.toFixed(1), 10)}${lpad(r.vsFedavg.toFixed(2), 10)}  ${JSON.stringify(r.options)}`,
  );
}
console.log(
  JSON.stringify({
    bench: 'strategies',
    updates: N,
    parameters: PARAMS,
    repeats: REPEATS,
    node: process.version,
    copyMs: +copyMs.toFixed(3),
    results: results.map((r) => ({ ...r, ms: +r.ms.toFixed(3), vsCopy: +r.vsCopy.toFixed(3), vsFedavg: +r.vsFedavg.toFixed(3) })),
  }),
);
