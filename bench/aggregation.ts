/**
 * `npx tsx bench/aggregation.ts [--quick]`: the coordinator's streaming FedAvg with its validation, against
 * copying the same bytes with Float32Array.prototype.set (bench/run.ts's baseline) and against the previous
 * double-double sum plus its separate non-finite pass (kept below as the baseline), at 100k and 1M parameters,
 * 100 updates. Interleaved repetitions, medians of wall time; CPU time reported beside (the machine is shared:
 * the load average is recorded). Writes bench/results/aggregation.json with `targets` (goal: validation + sum
 * ≥ 0.5× the copy).
 *
 * The sum is measured three ways: `exactWasmInPlace`, each update decoded (copied) into the sum's own
 * staging memory (StreamingFedAvg.updateArrays), then add(): the time of that minus the copy's in the same
 * repetition — the validation and the sum, what the target is about, since a decoder writes the update
 * somewhere anyway; `exactWasmInPlaceLarge`, the same with counts large enough that every term takes the
 * general (two-word) rounding, not the one-add path of small terms; `exactWasm`, updates passed as ordinary
 * arrays, so add() first copies each into wasm memory (the copy is in the time).
 *
 * The "before" is measured in the same run: `previousInPlace` and `previousInPlaceLarge` are the same two
 * in-place measurements with the previous wasm kernel (the blocked fold, bench/baselines/blocked-fold-sum-*),
 * driven through the kernel interface exactly as StreamingFedAvg's add() and result() drive the current one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { StreamingFedAvg } from '../shared/src/strategies/streaming-fedavg.ts';
import { SUM_PADDING } from '../shared/src/strategies/streaming-sum/sum-kernel.ts';
import { createBlockedFoldSumKernel } from './baselines/blocked-fold-sum-kernel.ts';

const quick = process.argv.includes('--quick');
const UPDATES = quick ? 20 : 100;
const REPS = quick ? 3 : 7;

/** The previous implementation (double-double running sum), for the baseline. */
class DoubleDoubleFedAvg {
  private readonly hi: Float64Array[];
  private readonly lo: Float64Array[];
  private total = 0;
  constructor(lengths: readonly number[]) {
    this.hi = lengths.map((n) => new Float64Array(n));
    this.lo = lengths.map((n) => new Float64Array(n));
  }
  add(weights: Float32Array[], n: number): void {
    for (let t = 0; t < weights.length; t++) {
      const w = weights[t];
      const hi = this.hi[t];
      const lo = this.lo[t];
      for (let i = 0; i < w.length; i++) {
        const p = n * w[i];
        const a = hi[i];
        const s = a + p;
        const bb = s - a;
        const e = a - (s - bb) + (p - bb);
        const l = lo[i] + e;
        const h = s + l;
        hi[i] = h;
        lo[i] = l - (h - s);
      }
    }
    this.total += n;
  }
  result(): Float32Array[] {
    return this.hi.map((hi, t) => Float32Array.from(hi, (h, i) => (h + this.lo[t][i]) / this.total));
  }
}

/** The previous separate validation pass (validate-fit-result.ts's firstNonFinite). */
function firstNonFinite(arrays: Float32Array[]): number {
  for (const a of arrays) for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Timing {
  ms: number;
  cpuMs: number;
}

function measure(fn: () => void): Timing {
  const c = process.cpuUsage();
  const t = process.hrtime.bigint();
  fn();
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const u = process.cpuUsage(c);
  return { ms, cpuMs: (u.user + u.system) / 1000 };
}

const results: Record<string, unknown>[] = [];
const targets: Array<{ target: string; goal: number | null; measured: number; cpuRatio?: number; unit: string; met: boolean | null }> = [];
const loadBefore = loadavg();
for (const params of [100_000, 1_000_000]) {
  const updates = Array.from({ length: UPDATES }, (_, k) => Float32Array.from({ length: params }, (_, i) => Math.sin(i * 0.37 + k) * 0.1));
  const dst = new Float32Array(params);
  // One sum per kernel, reset between repetitions as the round aggregator resets its sum every round.
  const wasmSum = new StreamingFedAvg([params], { kernel: 'wasm' });
  const placedSum = new StreamingFedAvg([params], { kernel: 'wasm' });
  /**
   * Decodes (copies) each update into the sum's staging memory, then add(); result() at the end. The decode
   * write is what a decoder does anyway (into a fresh array otherwise), so the sum's own cost is this minus
   * the copy of the same repetition (exactWasmInPlace below).
   */
  const decodeInPlaceAndAdd = (n: number) => {
    placedSum.reset();
    for (const u of updates) {
      const arrays = placedSum.updateArrays();
      arrays[0].set(u);
      placedSum.add(arrays, n);
    }
    void placedSum.result();
  };
  /** The same with the previous kernel: StreamingFedAvg's add() (check, range test, commit) and result() on it. */
  const previous = createBlockedFoldSumKernel(params + SUM_PADDING);
  const previousDecodeInPlaceAndAdd = (n: number) => {
    previous.reset();
    const ns = n * 2 ** -3; // the default grid: G = 24 − 21
    for (const u of updates) {
      const slot = previous.stagingArea().subarray(0, params);
      slot.set(u);
      const m = previous.stage(slot, 0);
      if (!(m <= 2 ** 24)) throw new Error('unexpected');
      previous.commit(ns, m);
    }
    previous.flush();
    void previous.mean(0, params, 2 ** 3 / (n * UPDATES));
  };
  const variants: Record<string, () => void> = {
    copy: () => {
      for (const u of updates) dst.set(u);
    },
    doubleDouble: () => {
      const acc = new DoubleDoubleFedAvg([params]);
      for (const u of updates) {
        if (firstNonFinite([u]) >= 0) throw new Error('unexpected');
        acc.add([u], 100);
      }
      void acc.result();
    },
    exactWasm: () => {
      wasmSum.reset();
      for (const u of updates) wasmSum.add([u], 100);
      void wasmSum.result();
    },
    decodeInPlaceAndAdd: () => decodeInPlaceAndAdd(100),
    // 100,000 examples × |w| up to 0.1 = terms past 2^7 in the sum's units: the general rounding.
    decodeInPlaceAndAddLarge: () => decodeInPlaceAndAdd(100_000),
    previousDecodeInPlaceAndAdd: () => previousDecodeInPlaceAndAdd(100),
    previousDecodeInPlaceAndAddLarge: () => previousDecodeInPlaceAndAdd(100_000),
    exactJs: () => {
      const acc = new StreamingFedAvg([params], { kernel: 'js' });
      for (const u of updates) acc.add([u], 100);
      void acc.result();
    },
  };
  const times: Record<string, Timing[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const fn of Object.values(variants)) fn(); // warm up
  for (let r = 0; r < REPS; r++) for (const [k, fn] of Object.entries(variants)) times[k].push(measure(fn));
  // The sum's own cost with the update decoded in place: each repetition's decode+add minus its copy.
  const less = (a: Timing[], b: Timing[]) => a.map((t, r) => ({ ms: t.ms - b[r].ms, cpuMs: t.cpuMs - b[r].cpuMs }));
  times.exactWasmInPlace = less(times.decodeInPlaceAndAdd, times.copy);
  times.exactWasmInPlaceLarge = less(times.decodeInPlaceAndAddLarge, times.copy);
  times.previousInPlace = less(times.previousDecodeInPlaceAndAdd, times.copy);
  times.previousInPlaceLarge = less(times.previousDecodeInPlaceAndAddLarge, times.copy);
  const med = Object.fromEntries(Object.entries(times).map(([k, ts]) => [k, { ms: median(ts.map((t) => t.ms)), cpuMs: median(ts.map((t) => t.cpuMs)) }]));
  const perParamNs = (ms: number) => (ms * 1e6) / (UPDATES * params);
  const row = {
    parameters: params,
    updates: UPDATES,
    ...Object.fromEntries(Object.entries(med).map(([k, t]) => [k, { ...t, nsPerParameter: perParamNs(t.ms), ratioToCopy: med.copy.ms / t.ms }])),
  };
  results.push(row);
  const k = `${params / 1000}k params`;
  // The previous kernel's rows are the same run's baseline, reported beside the targets (goal and met null), not targets.
  const vsCopy = (variant: string, what: string, baseline = false) => {
    const ratio = med.copy.ms / med[variant].ms;
    const cpuRatio = med.copy.cpuMs / med[variant].cpuMs;
    targets.push({ target: `${what} vs memory copy, ${k}`, goal: baseline ? null : 0.5, measured: Number(ratio.toFixed(3)), cpuRatio: Number(cpuRatio.toFixed(3)), unit: 'ratio', met: baseline ? null : ratio >= 0.5 });
  };
  vsCopy('exactWasmInPlace', 'streaming FedAvg with validation (update decoded in place)');
  vsCopy('exactWasmInPlaceLarge', 'streaming FedAvg with validation (update decoded in place, every term on the general rounding path)');
  vsCopy('exactWasm', 'streaming FedAvg with validation (update passed as arrays: add() copies it into wasm memory first)');
  vsCopy('previousInPlace', 'before (the previous kernel, blocked fold): streaming FedAvg with validation (update decoded in place)', true);
  vsCopy('previousInPlaceLarge', 'before (the previous kernel, blocked fold): every term on the general rounding path', true);
  targets.push({
    target: `streaming FedAvg with validation (arrays) vs the previous double-double + non-finite pass, ${k}`,
    goal: 1,
    measured: Number((med.doubleDouble.ms / med.exactWasm.ms).toFixed(2)),
    unit: 'ratio',
    met: med.doubleDouble.ms / med.exactWasm.ms >= 1,
  });
  console.log(
    `${params} params × ${UPDATES} updates: ` +
      Object.entries(med)
        .map(([k, t]) => `${k} ${t.ms.toFixed(1)} ms (cpu ${t.cpuMs.toFixed(1)}, ${perParamNs(t.ms).toFixed(2)} ns/param, ×${(med.copy.ms / t.ms).toFixed(3)} of copy)`)
        .join('; '),
  );
}
const out = { date: new Date().toISOString(), node: process.version, quick, loadAverage: { before: loadBefore.map((x) => Number(x.toFixed(2))), after: loadavg().map((x) => Number(x.toFixed(2))), cores: availableParallelism() }, targets, results };
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'aggregation.json'), JSON.stringify(out, null, 2));
console.log(JSON.stringify(targets));
