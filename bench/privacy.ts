/**
 * Cost of the privacy building blocks, each against a baseline measured in the same run:
 *   - secure aggregation of N sites (default 10) × P parameters (default 100k): the site-side work of one
 *     round (keys, shares, quantize + masks) and the coordinator's (routing, modular sum, share recovery,
 *     mask removal), with 0 and with 2 sites dropping after masking, against plain weighted FedAvg
 *     (`weightedAverage`) of the same updates;
 *   - the pieces: one ChaCha20 mask of P values, one X25519 agreement, Shamir split/combine;
 *   - the RDP accountant: ε over the default orders (one `computeEpsilon`), and one round of an
 *     `RdpAccountant` (step + getEpsilon).
 * Prints a table and one JSON line. Run: npx tsx bench/privacy.ts [--sites 10] [--params 100000] [--repeats 3]
 */
import { SeededRandom } from '../shared/src/random/seeded-random.ts';
import { weightedAverage } from '../shared/src/strategies/aggregate-fedavg.ts';
import type { WeightArrays } from '../shared/src/weights.ts';
import { ChaChaRandom } from '../shared/src/privacy/chacha-random.ts';
import { dequantize, fixedPointConfig } from '../shared/src/privacy/fixed-point.ts';
import { agreeKey, expandMask, generateKeyPair } from '../shared/src/privacy/secagg-crypto.ts';
import type { SecAggConfig } from '../shared/src/privacy/secagg-messages.ts';
import { SecAggServer } from '../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../shared/src/privacy/secagg-site.ts';
import { combine, split } from '../shared/src/privacy/shamir.ts';
import { computeEpsilon, RdpAccountant } from '../shared/src/privacy/rdp-accountant.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg('sites', 10);
const P = arg('params', 100_000);
const REPEATS = arg('repeats', 3);
const SIZES = [Math.round(P * 0.9), P - Math.round(P * 0.9)];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function time(fn: () => unknown, repeats = REPEATS): number {
  fn(); // warm up (JIT)
  const ms: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return median(ms);
}

const rng = new SeededRandom(5);
const inputs = Array.from({ length: N }, (_, k) => ({
  siteId: `site-${String(k + 1).padStart(2, '0')}`,
  update: SIZES.map((n) => Float32Array.from({ length: n }, () => 0.01 * rng.uniform(-1, 1))) as WeightArrays,
  numExamples: 100 + 10 * k,
}));
const totalExamples = inputs.reduce((n, i) => n + i.numExamples, 0);
const zeros = SIZES.map((n) => new Float32Array(n));

const plainMs = time(() => weightedAverage(zeros, inputs.map((i) => ({ weights: i.update, numExamples: i.numExamples }))), 2 * REPEATS + 1);

/** One secure-aggregation round driven phase by phase, timing each party's work separately. */
function secAggRound(drop: Set<string>): { siteMs: number[]; coordinatorMs: number; maxError: number } {
  const config: SecAggConfig = {
    round: 1,
    sites: inputs.map((i) => i.siteId),
    threshold: Math.floor(N / 2) + 1,
    vectorLength: P,
    fixedPoint: fixedPointConfig({ sites: N }),
  };
  const siteMs = new Map(inputs.map((i) => [i.siteId, 0]));
  let coordinatorMs = 0;
  const onSite = <T>(id: string, fn: () => T): T => {
    const t0 = performance.now();
    const out = fn();
    siteMs.set(id, siteMs.get(id)! + performance.now() - t0);
    return out;
  };
  const onCoordinator = <T>(fn: () => T): T => {
    const t0 = performance.now();
    const out = fn();
    coordinatorMs += performance.now() - t0;
    return out;
  };
  const server = onCoordinator(() => new SecAggServer(config));
  const sites = inputs.map((i) => onSite(i.siteId, () => new SecAggSite(i.siteId, config)));
  for (const s of sites) {
    const m = onSite(s.siteId, () => s.advertiseKeys());
    onCoordinator(() => server.receiveAdvertiseKeys(m));
  }
  const dir = onCoordinator(() => server.closeAdvertise());
  for (const s of sites) {
    const m = onSite(s.siteId, () => s.shareKeys(dir));
    onCoordinator(() => server.receiveShareKeys(m));
  }
  const deliveries = onCoordinator(() => server.closeShareKeys());
  for (const s of sites) {
    const input = inputs.find((i) => i.siteId === s.siteId)!;
    const m = onSite(s.siteId, () => s.maskInput(deliveries.get(s.siteId)!, { update: input.update, weight: input.numExamples / totalExamples }));
    if (!drop.has(s.siteId)) onCoordinator(() => server.receiveMaskedInput(m));
  }
  const request = onCoordinator(() => server.closeMaskedInput());
  for (const s of sites.filter((x) => request.survivors.includes(x.siteId))) {
    const m = onSite(s.siteId, () => s.unmask(request));
    onCoordinator(() => server.receiveUnmaskResponse(m));
  }
  const result = onCoordinator(() => dequantize(server.finish().sum, SIZES, config.fixedPoint));
  const survivors = inputs.filter((i) => !drop.has(i.siteId));
  const plain = weightedAverage(zeros, survivors.map((i) => ({ weights: i.update, numExamples: i.numExamples })));
  let maxError = 0;
  plain.forEach((t, k) => t.forEach((v, j) => (maxError = Math.max(maxError, Math.abs(v - result.mean[k][j])))));
  return { siteMs: [...siteMs.values()], coordinatorMs, maxError };
}

function runSecAgg(drops: number) {
  const drop = new Set(inputs.slice(0, drops).map((i) => i.siteId));
  secAggRound(drop); // warm up
  const runs = Array.from({ length: REPEATS }, () => secAggRound(drop));
  return {
    siteMs: median(runs.map((r) => median(r.siteMs))),
    coordinatorMs: median(runs.map((r) => r.coordinatorMs)),
    maxError: Math.max(...runs.map((r) => r.maxError)),
  };
}

const secagg0 = runSecAgg(0);
const secagg2 = runSecAgg(2);

const cr = new ChaChaRandom(new Uint8Array(32).fill(3));
const seed = cr.bytes(32);
const maskMs = time(() => expandMask(seed, P), 2 * REPEATS + 1);
const a = generateKeyPair(cr.randomBytes);
const b = generateKeyPair(cr.randomBytes);
const agreeMs = time(() => agreeKey(a.secretKey, b.publicKey, 'mask', 1, 'a', 'b'), 10);
const shares = split(seed, N, Math.floor(N / 2) + 1, cr.randomBytes);
const splitMs = time(() => split(seed, N, Math.floor(N / 2) + 1, cr.randomBytes), 10);
const combineMs = time(() => combine(shares), 10);

const epsilonMs = time(() => computeEpsilon({ samplingRate: 256 / 60000, noiseMultiplier: 1.1, steps: 14040, delta: 1e-5 }), 5);
const acc = new RdpAccountant();
acc.step(1.0, 0.1);
const roundMs = time(() => {
  for (let r = 0; r < 1000; r++) {
    acc.step(1.0, 0.1);
    acc.getEpsilon(1e-5);
  }
}) / 1000;

const f = (ms: number) => `${ms.toFixed(2)} ms`;
console.log(`secure aggregation: ${N} sites × ${P.toLocaleString('en')} parameters (median of ${REPEATS})`);
console.log(`  plain weighted FedAvg (baseline)            ${f(plainMs)}`);
for (const [label, r] of [['0 dropping', secagg0], ['2 dropping after masking', secagg2]] as const) {
  console.log(`  ${label.padEnd(26)} site ${f(r.siteMs).padStart(11)} (${(r.siteMs / plainMs).toFixed(1)}× FedAvg)   coordinator ${f(r.coordinatorMs).padStart(11)} (${(r.coordinatorMs / plainMs).toFixed(1)}× FedAvg)   max |error| ${r.maxError.toExponential(1)}`);
}
console.log(`  pieces: ChaCha20 mask of ${P.toLocaleString('en')} ${f(maskMs)} (${((4 * P) / 1e6 / (maskMs / 1000)).toFixed(0)} MB/s), X25519+HKDF ${f(agreeMs)}, Shamir split ${N} ${f(splitMs)}, combine ${f(combineMs)}`);
console.log(`RDP accountant: computeEpsilon over the default orders ${f(epsilonMs)}; one round (step + getEpsilon) ${f(roundMs)}`);
console.log(
  JSON.stringify({
    sites: N,
    params: P,
    plainFedAvgMs: plainMs,
    secagg: {
      noDrop: { ...secagg0, siteRatio: secagg0.siteMs / plainMs, coordinatorRatio: secagg0.coordinatorMs / plainMs },
      twoDrop: { ...secagg2, siteRatio: secagg2.siteMs / plainMs, coordinatorRatio: secagg2.coordinatorMs / plainMs },
    },
    pieces: { maskMs, agreeMs, splitMs, combineMs },
    accountant: { computeEpsilonMs: epsilonMs, roundMs },
  }),
);
