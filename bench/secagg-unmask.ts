/**
 * Secure aggregation's unmasking at the coordinator (`SecAggServer.finish`, which blocks the event loop): full
 * SecAgg (everyone everyone's neighbour, the default) with n sites that all survive and answer, t = ⌊2n/3⌋ + 1,
 * a 1,000-value update. Measured in the same run:
 *   - `finish()` as it is: each survivor's self-mask seed from t shares with Lagrange coefficients shared by every
 *     owner, checked against its commitment (shared/src/privacy/verified-recovery.ts);
 *   - the recovery as before 2026-12-05: `combine` of every share of every survivor's seed (each surplus share
 *     checked against the first t by its own interpolation: n·(n − t)·t field inversions), without removing the
 *     masks — a lower bound of the old `finish()`.
 * Goal: the old recovery ÷ `finish()` ≥ 10 at 40 sites. Then, at 40 sites, 6 survivors (the most Reed–Solomon decoding
 * corrects at t = 27) revealing a wrong share of every owner: `finish()` ÷ the honest `finish()` ≤ 3 (they are found
 * by decoding the first owner's shares and skipped after). Then the masks of a real model (20 sites, 2 dropped,
 * 101,770 values) removed with @noble's ChaCha20 and X25519 and with OpenSSL's: goal ≥ 3×. Writes
 * bench/results/secagg-unmask.json.
 *
 *   npx tsx bench/secagg-unmask.ts [--sites 10,20,40,80]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fixedPointConfig } from '../shared/src/privacy/fixed-point.ts';
import { SecAggServer } from '../shared/src/privacy/secagg-server.ts';
import { SecAggSite } from '../shared/src/privacy/secagg-site.ts';
import { combine, type ShamirShare } from '../shared/src/privacy/shamir.ts';
import { nobleChaChaKeystream, nobleX25519, type SecAggPrimitives } from '../shared/src/privacy/secagg-crypto.ts';
import { nodeSecAggPrimitives } from '../shared/src/node/node-secagg-primitives.ts';
import type { SecAggConfig, SecAggUnmaskResponse } from '../shared/src/privacy/secagg-messages.ts';

const { values: args } = parseArgs({ options: { sites: { type: 'string', default: '10,20,40,80' } } });
const sizes = args.sites!.split(',').map(Number);
const VECTOR = 1000;

/** A round of n sites up to the unmask responses (the sites' work, not timed). */
function roundAtUnmasking(n: number, o: { vector?: number; drop?: number; primitives?: SecAggPrimitives; wrongRevealers?: number } = {}) {
  const vector = o.vector ?? VECTOR;
  const ids = Array.from({ length: n }, (_, i) => `site-${String(i + 1).padStart(3, '0')}`);
  const config: SecAggConfig = { round: 1, sites: ids, threshold: Math.floor((2 * n) / 3) + 1, vectorLength: vector, fixedPoint: fixedPointConfig({ sites: n }) };
  const server = new SecAggServer(config, o.primitives ? { primitives: o.primitives } : {});
  const sites = ids.map((id) => new SecAggSite(id, config, { primitives: nodeSecAggPrimitives }));
  for (const s of sites) server.receiveAdvertiseKeys(s.advertiseKeys());
  const directory = server.closeAdvertise();
  for (const s of sites) server.receiveShareKeys(s.shareKeys(directory));
  const deliveries = server.closeShareKeys();
  const update = [Float32Array.from({ length: vector }, (_, i) => Math.sin(i) / 10)];
  // The last `drop` sites shared their keys and then sent no masked input: their pairwise masks are removed too.
  for (const s of sites.slice(0, n - (o.drop ?? 0))) server.receiveMaskedInput(s.maskInput(deliveries.get(s.siteId)!, { update, weight: 1 }));
  const request = server.closeMaskedInput();
  const responses: SecAggUnmaskResponse[] = sites.slice(0, n - (o.drop ?? 0)).map((s, i) =>
    // The first `wrongRevealers` (points 1, 2, …: among every owner's first t shares) reveal every share off by one.
    i < (o.wrongRevealers ?? 0) ? offByOne(s.unmask(request)) : s.unmask(request),
  );
  for (const r of responses) server.receiveUnmaskResponse(r);
  return { server, responses, ids, t: config.threshold };
}

function offByOne(r: SecAggUnmaskResponse): SecAggUnmaskResponse {
  const P = 2n ** 521n - 1n;
  return { ...r, selfMaskShares: r.selfMaskShares.map((s) => ({ ...s, share: numberToBytesBE((bytesToNumberBE(s.share) + 1n) % P, s.share.length) })) };
}

/** The old recovery: `combine` over every revealed share of each survivor's seed (points = index + 1). */
function combineEveryShare(responses: SecAggUnmaskResponse[], ids: string[], t: number): void {
  const byOwner = new Map<string, ShamirShare[]>();
  for (const r of responses) {
    const x = ids.indexOf(r.siteId) + 1;
    for (const { owner, share } of r.selfMaskShares) {
      const list = byOwner.get(owner) ?? [];
      list.push({ x, y: share, threshold: t, secretLength: 32 });
      byOwner.set(owner, list);
    }
  }
  for (const shares of byOwner.values()) combine(shares);
}

const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
const rows: Array<{ sites: number; threshold: number; finishMs: number; oldRecoveryMs: number; ratio: number }> = [];
for (const n of sizes) {
  const finishMs: number[] = [];
  const oldMs: number[] = [];
  const repeats = n >= 80 ? 1 : 3;
  for (let r = 0; r < repeats; r++) {
    const a = roundAtUnmasking(n);
    const t0 = performance.now();
    a.server.finish();
    finishMs.push(performance.now() - t0);
    const t1 = performance.now();
    combineEveryShare(a.responses, a.ids, a.t);
    oldMs.push(performance.now() - t1);
  }
  const row = { sites: n, threshold: Math.floor((2 * n) / 3) + 1, finishMs: Number(median(finishMs).toFixed(2)), oldRecoveryMs: Number(median(oldMs).toFixed(1)), ratio: Number((median(oldMs) / median(finishMs)).toFixed(1)) };
  rows.push(row);
  console.log(`secagg unmasking, ${n} sites (t = ${row.threshold}): finish ${row.finishMs} ms; the old recovery alone ${row.oldRecoveryMs} ms (${row.ratio}×)`);
}
// Hostile survivors at 40 sites: 6 reveal a wrong share of every owner (interleaved with honest rounds).
const honestMs: number[] = [];
const hostileMs: number[] = [];
let named: string[] = [];
for (let r = 0; r < 5; r++) {
  const honest = roundAtUnmasking(40);
  let t0 = performance.now();
  honest.server.finish();
  honestMs.push(performance.now() - t0);
  const hostile = roundAtUnmasking(40, { wrongRevealers: 6 });
  t0 = performance.now();
  named = hostile.server.finish().wrongShares;
  hostileMs.push(performance.now() - t0);
}
const hostileRow = { sites: 40, wrongRevealers: 6, named: named.length, honestMs: Number(median(honestMs).toFixed(2)), hostileMs: Number(median(hostileMs).toFixed(2)), ratio: Number((median(hostileMs) / median(honestMs)).toFixed(2)) };
console.log(`secagg unmasking, 40 sites, 6 survivors revealing wrong shares of every owner: finish ${hostileRow.hostileMs} ms against ${hostileRow.honestMs} ms honest (${hostileRow.ratio}×), ${hostileRow.named} named`);
// Removing the masks of a real model: 20 sites, 2 of them dropped after sharing their keys, 101,770 values (the
// default model) — the survivors' self masks and each dropped site's pairwise masks, expanded by @noble/ciphers'
// ChaCha20 and X25519 (as before 2026-12-05) and by OpenSSL's (nodeSecAggPrimitives, what the coordinator uses).
const masks: Record<'noble' | 'node', number[]> = { noble: [], node: [] };
for (let r = 0; r < 3; r++) {
  for (const [name, primitives] of [['noble', { keystream: nobleChaChaKeystream, x25519: nobleX25519 }], ['node', nodeSecAggPrimitives]] as const) {
    const a = roundAtUnmasking(20, { vector: 101_770, drop: 2, primitives });
    const t0 = performance.now();
    a.server.finish();
    masks[name].push(performance.now() - t0);
  }
}
const med = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
const maskRow = { sites: 20, dropped: 2, vectorLength: 101_770, nobleMs: Number(med(masks.noble).toFixed(1)), nodeMs: Number(med(masks.node).toFixed(1)), ratio: Number((med(masks.noble) / med(masks.node)).toFixed(2)) };
console.log(`secagg unmasking, 20 sites (2 dropped), 101,770 values: finish ${maskRow.nodeMs} ms with OpenSSL's ChaCha20 and X25519, ${maskRow.nobleMs} ms with @noble's (${maskRow.ratio}×)`);
const at40 = rows.find((r) => r.sites === 40);
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'secagg-unmask.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      loadAverage: loadavg().map((v) => Number(v.toFixed(2))),
      vectorLength: VECTOR,
      rows,
      masks: maskRow,
      hostileRevealers: hostileRow,
      targets: [
        ...(at40 ? [{ target: 'secure aggregation unmasking at the coordinator, 40 sites: the old recovery (combine every share) ÷ finish()', goal: 10, measured: at40.ratio, unit: 'ratio', met: at40.ratio >= 10, note: `${at40.oldRecoveryMs} ms vs ${at40.finishMs} ms` }] : []),
        { target: 'secure aggregation unmasking, 40 sites, 6 survivors revealing a wrong share of every owner: finish() ÷ the honest finish() (at most)', goal: 3, measured: hostileRow.ratio, unit: 'ratio', met: hostileRow.ratio <= 3 && hostileRow.named === 6, note: `${hostileRow.hostileMs} ms vs ${hostileRow.honestMs} ms; ${hostileRow.named} of 6 named` },
        { target: "secure aggregation unmasking, 20 sites (2 dropped), 101,770 values: finish() with @noble's ChaCha20 and X25519 ÷ with OpenSSL's", goal: 3, measured: maskRow.ratio, unit: 'ratio', met: maskRow.ratio >= 3, note: `${maskRow.nobleMs} ms vs ${maskRow.nodeMs} ms` },
      ],
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${out}`);
