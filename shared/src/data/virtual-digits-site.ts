import { FedtuneError } from '../errors.ts';
import { deriveSeed, SeededRandom } from '../random/seeded-random.ts';
import { applyScannerProfile } from './image-shift.ts';
import type { Dataset } from './dataset.ts';
import { DIGITS_TASK, scannerProfiles } from './digits-task.ts';

/**
 * A virtual site of the built-in digits task (fedtune worker, fedtune simulate --site-data resample:N): its
 * data is not a share of the 7,900-digit pool but `examples` digits drawn from it with replacement, from the
 * run's seed and the site's index alone — so any process makes the same data for the same site, whenever it
 * is asked, and 10,000 sites need no more digits than the pool has.
 */
export interface VirtualDigitsSpec {
  /** The run's seed. */
  seed: number;
  /** Digits each site draws (with replacement), 10..10,000. */
  examples: number;
  /** Label skew: each site's class shares drawn from Dir(alpha); undefined = IID (every class alike). */
  alpha?: number;
  /** Render the site's digits through its scanner profile (index mod 8), as the partitioned sites' are (default true). */
  featureShift?: boolean;
}

/** Bounds of VirtualDigitsSpec.examples (a site's split needs ≥ 10; more than 10,000 is not "few"). */
export const VIRTUAL_SITE_EXAMPLES = Object.freeze({ min: 10, max: 10_000 });
/** Highest virtual site index (ids v-00000 … v-999999). */
export const MAX_VIRTUAL_SITE_INDEX = 999_999;

/** The id of virtual site `index`: v-00042 (five digits at least, so ids sort as their indices do up to 99,999). */
export function virtualSiteName(index: number): string {
  return `v-${String(index).padStart(5, '0')}`;
}

const byClassOf = new WeakMap<Dataset, number[][]>();

/** The pool's example indices per class (computed once per pool). */
function indicesByClass(pool: Dataset): number[][] {
  let byClass = byClassOf.get(pool);
  if (!byClass) {
    byClass = Array.from({ length: pool.numClasses }, () => []);
    for (let i = 0; i < pool.y.length; i++) byClass[pool.y[i]].push(i);
    byClassOf.set(pool, byClass);
  }
  return byClass;
}

/** Checks a spec: a clear typed error for anything out of bounds. */
export function checkVirtualDigitsSpec(spec: VirtualDigitsSpec): void {
  const { min, max } = VIRTUAL_SITE_EXAMPLES;
  if (!Number.isInteger(spec.examples) || spec.examples < min || spec.examples > max) {
    throw new FedtuneError('config', `a virtual site holds ${min}..${max} examples, got ${spec.examples}`);
  }
  if (spec.alpha !== undefined && !(Number.isFinite(spec.alpha) && spec.alpha > 0)) throw new FedtuneError('config', `label skew alpha must be > 0, got ${spec.alpha}`);
  if (!Number.isInteger(spec.seed) || spec.seed < 0) throw new FedtuneError('config', `seed must be an integer ≥ 0, got ${spec.seed}`);
}

/**
 * Virtual site `index`'s digits: the same for the same (seed, index, spec) every time, in any process.
 * Classes are drawn from the site's shares (Dir(alpha), or uniform), then a digit of that class uniformly
 * from the pool; each rendered by the site's scanner when featureShift is on.
 */
export function virtualDigitsSite(pool: Dataset, index: number, spec: VirtualDigitsSpec): Dataset {
  checkVirtualDigitsSpec(spec);
  if (!Number.isInteger(index) || index < 0 || index > MAX_VIRTUAL_SITE_INDEX) throw new FedtuneError('config', `virtual site index must be 0..${MAX_VIRTUAL_SITE_INDEX}, got ${index}`);
  const byClass = indicesByClass(pool);
  const classes = byClass.map((idx, c) => c).filter((c) => byClass[c].length > 0);
  const rng = new SeededRandom(deriveSeed(spec.seed, 'virtual-site', index));
  const shares = classes.map(() => (spec.alpha === undefined ? 1 : rng.gamma(spec.alpha)));
  const total = shares.reduce((a, b) => a + b, 0);
  const f = pool.featureShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(spec.examples * f);
  const y = new Int32Array(spec.examples);
  const profile = spec.featureShift === false ? undefined : scannerProfiles()[index % DIGITS_TASK.profiles];
  // The scanner's noise has its own stream: the same digits are drawn with feature shift and without.
  const scanner = new SeededRandom(deriveSeed(spec.seed, 'virtual-site-scanner', index));
  for (let k = 0; k < spec.examples; k++) {
    // The class by its share (the last class takes any rounding remainder), then a digit of it.
    let u = rng.next() * total;
    let c = 0;
    while (c < classes.length - 1 && u >= shares[c]) u -= shares[c++];
    const members = byClass[classes[c]];
    const i = members[rng.int(members.length)];
    const img = pool.x.subarray(i * f, (i + 1) * f);
    x.set(profile ? applyScannerProfile(img, DIGITS_TASK.width, DIGITS_TASK.height, profile, scanner) : img, k * f);
    y[k] = pool.y[i];
  }
  return { x, y, featureShape: [...pool.featureShape], numClasses: pool.numClasses };
}
