import { canonicalize, type SumKernel } from './sum-kernel.ts';

const C = 1.5 * 2 ** 52;
const SCALE = 2 ** 43;
const WORD = 2 ** 32;

/** Adds the integer k (|k| < 2^52, a float64) to the i64 stored at words[j] (low) and words[j + 1] (high), wrapping like i64.add. */
function addI64(words: Int32Array, j: number, k: number): void {
  const kh = Math.floor(k / WORD);
  const s = (words[j] >>> 0) + (k - kh * WORD);
  const carry = s >= WORD ? 1 : 0;
  words[j] = s | 0;
  words[j + 1] = (words[j + 1] + kh + carry) | 0;
}

/**
 * The JS twin of streaming-sum.wat, and its oracle: the plainest form of the same integers (every term split
 * into h = round(x) and l = round((x − h)·2^43), added at once), canonical after `flush` like the wasm
 * kernel's, so both give the same state and result bits. The fallback where wasm SIMD is missing.
 */
export function createJsSumKernel(capacity: number): SumKernel {
  const words = new Int32Array(4 * capacity);
  const loBase = 2 * capacity;
  let staged: Array<{ values: Float32Array; start: number }> = [];
  return {
    kind: 'js',
    words,
    stagingArea() {
      return new Float32Array(capacity);
    },
    stage(values, start) {
      staged.push({ values, start });
      let m = 0;
      for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
      return m;
    },
    commit(ns) {
      for (const { values, start } of staged) {
        for (let i = 0; i < values.length; i++) {
          const x = values[i] * ns;
          const h = x + C - C;
          const l = (x - h) * SCALE + C - C;
          addI64(words, 2 * (start + i), h);
          addI64(words, loBase + 2 * (start + i), l);
        }
      }
      // |l| ≤ 2^42 per term and at most 2^20 updates: lo stays inside i64 until `flush` carries it.
      staged = [];
    },
    discard() {
      staged = [];
    },
    reset() {
      staged = [];
      words.fill(0);
    },
    flush() {
      canonicalize(words, capacity);
    },
    mean(start, count, scale) {
      const out = new Float32Array(count);
      // Stryker disable next-line EqualityOperator: equivalent: out[count] is past the array's end, so that write is dropped.
      for (let i = 0; i < count; i++) {
        const j = 2 * (start + i);
        // TwoSum (Knuth) three times: s + e = a + b exactly; the errors are added up in e.
        const a1 = words[j + 1] * WORD;
        const b1 = words[j] >>> 0;
        const s1 = a1 + b1;
        const v1 = s1 - a1;
        let e = a1 - (s1 - v1) + (b1 - v1);
        const b2 = words[loBase + j + 1] * 2 ** -11;
        // s1 − b2 (and s2 − b3 below) survive mutation testing: TwoSum's error formula applied to a difference
        // gives its exact error plus 2·b, so s3 + e is the same real sum, and e keeps the bits that decide the
        // rounding. 5.6 M sums against the BigInt reference (random ones, and 2.56 M placed on or one unit of 2^-43
        // off a float32 or float64 rounding midpoint at every magnitude) found no difference.
        // Stryker disable next-line ArithmeticOperator: equivalent: see above.
        const s2 = s1 + b2;
        const v2 = s2 - s1;
        e += s1 - (s2 - v2) + (b2 - v2);
        const b3 = (words[loBase + j] >>> 0) * 2 ** -43;
        // Stryker disable next-line ArithmeticOperator: equivalent: see above.
        const s3 = s2 + b3;
        const v3 = s3 - s2;
        e += s2 - (s3 - v3) + (b3 - v3);
        out[i] = (s3 + e) * scale;
      }
      return out;
    },
  };
}
