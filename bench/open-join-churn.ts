/**
 * Join churn on an open coordinator (no site tokens): a child process joins under fresh names as fast as 8
 * workers can — hello, accept the run's terms, leave — for `--seconds`, against the coordinator with its limit of
 * joins without a token per address (site-authorizer.ts, openJoinsPerMinute: 60 a minute in bursts of 2,048) and
 * against the same coordinator with it off (what it did before 2026-12-07), in the same run, interleaved.
 * Reported: joins welcomed, hellos refused, and how much the run's directory (audit log, database) grew — over
 * the whole churn and over its second half, once the limit's burst is spent (the steady state of a long churn).
 * Targets: the welcomed joins stay within the limit's burst and rate (at most 1.2 ×), and in the second half the
 * audit log grows at least 5 × less with it (the database grows in steps of pages and journal, so its bytes are
 * reported, not targeted).
 *
 *   npx tsx bench/open-join-churn.ts [--rounds 1] [--seconds 60]      writes bench/results/open-join-churn.json
 */
import { fork } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { SiteTokenStore } from '@fedtune/coordinator';
import { PROTOCOL_VERSION } from '@fedtune/shared';
import { startTinyCoordinator, tempDir } from '../tests/access/helpers.ts';

interface Churn { welcomed: number; refused: number }

async function churn(url: string, seconds: number): Promise<Churn> {
  let welcomed = 0;
  let refused = 0;
  const end = Date.now() + seconds * 1000;
  let n = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const siteId = `fresh-${process.pid}-${n++}`;
      const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
      const done = () => {
        s.disconnect();
        resolve();
      };
      s.on('connect', () => s.emit('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 40 } }));
      s.on('terms', (m: { terms: { runId: string }; hash: string }) => {
        s.emit('acceptTerms', { runId: m.terms.runId, siteId, hash: m.hash });
        welcomed++;
        setTimeout(done, 20);
      });
      s.on('rejected', () => {
        refused++;
        done();
      });
      s.on('connect_error', done);
      s.on('disconnect', () => resolve());
      setTimeout(done, 5_000);
    });
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (Date.now() < end) await one();
  }));
  return { welcomed, refused };
}

if (process.argv[2] === '--churn') {
  process.send!(await churn(process.argv[3], Number(process.argv[4])));
  process.exit(0);
}

/** Bytes of the files under `dir` (only those named `only`, when given). */
function bytesUnder(dir: string, only?: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) if (entry.isFile() && (only === undefined || entry.name === only)) total += statSync(join(entry.parentPath, entry.name)).size;
  return total;
}

const arg = (name: string, fallback: number) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback);
const rounds = arg('--rounds', 1);
const seconds = arg('--seconds', 60);
const PER_MINUTE = 60;
const BURST = 2048;
const loadBefore = loadavg();
const rows: Array<Churn & { arm: string; round: number; grewBytes: number; secondHalfBytes: number; auditSecondHalfBytes: number }> = [];
for (let round = 1; round <= rounds; round++)
  for (const [arm, openJoinsPerMinute] of [['limit', undefined], ['off', 0]] as const) {
    const runsDir = tempDir('fedtune-open-churn-');
    const store = new SiteTokenStore(join(runsDir, 'fedtune.db'));
    // minSites beyond reach and no join timeout: the run waits for sites the whole time, as an open coordinator does before its run.
    const coordinator = await startTinyCoordinator({ runId: `open-churn-${round}`, minSites: 1_000_000, runsDir, config: { joinTimeoutMs: 0 } as never, access: { store, ...(openJoinsPerMinute !== undefined ? { openJoinsPerMinute } : {}) }, connectionLimits: { connectionsPerSecond: 1_000_000, connectionBurst: 1_000_000 } });
    const before = bytesUnder(runsDir);
    let half = before;
    let auditHalf = 0;
    const halfway = setTimeout(() => {
      half = bytesUnder(runsDir);
      auditHalf = bytesUnder(runsDir, 'audit.jsonl');
    }, (seconds * 1000) / 2);
    const result = await new Promise<Churn>((resolve, reject) => {
      const child = fork(fileURLToPath(import.meta.url), ['--churn', coordinator.url!, String(seconds)], { execArgv: ['--import', 'tsx'] });
      child.once('message', (m) => resolve(m as Churn));
      child.once('exit', (code) => code !== 0 && reject(new Error(`churn child exited ${code}`)));
    });
    clearTimeout(halfway);
    await new Promise((r) => setTimeout(r, 1_000));
    const after = bytesUnder(runsDir);
    const grewBytes = after - before;
    const secondHalfBytes = after - half;
    const auditSecondHalfBytes = bytesUnder(runsDir, 'audit.jsonl') - auditHalf;
    await coordinator.close().catch(() => undefined);
    store.close();
    const row = { arm, round, ...result, grewBytes, secondHalfBytes, auditSecondHalfBytes };
    rows.push(row);
    console.log(`${arm} (round ${round}): ${row.welcomed} joins welcomed, ${row.refused} refused; the run's directory grew ${(grewBytes / 1e6).toFixed(2)} MB in ${seconds} s, ${(secondHalfBytes / 1e6).toFixed(3)} MB of it in the second half (the audit log ${(auditSecondHalfBytes / 1e6).toFixed(3)} MB)`);
  }
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const of = (arm: string, key: 'welcomed' | 'grewBytes' | 'secondHalfBytes' | 'auditSecondHalfBytes') => median(rows.filter((r) => r.arm === arm).map((r) => r[key]));
const allowed = BURST + (PER_MINUTE / 60) * seconds;
const targets = [
  { target: `open-coordinator join churn from one address (${seconds} s, 8 workers): joins welcomed with the limit ÷ its burst and rate (${BURST} + ${PER_MINUTE}/min × ${seconds} s = ${allowed}; at most) — ${of('limit', 'welcomed')} with the limit, ${of('off', 'welcomed')} without`, goal: 1.2, measured: +(of('limit', 'welcomed') / allowed).toFixed(2), unit: 'ratio', met: of('limit', 'welcomed') / allowed <= 1.2 },
  { target: `open-coordinator join churn, its second half (the burst spent): the audit log's growth without the limit ÷ with it (at least) — ${(of('off', 'auditSecondHalfBytes') / 1e6).toFixed(3)} vs ${(of('limit', 'auditSecondHalfBytes') / 1e6).toFixed(3)} MB (the whole run directory: ${(of('off', 'secondHalfBytes') / 1e6).toFixed(3)} vs ${(of('limit', 'secondHalfBytes') / 1e6).toFixed(3)} MB in the second half, ${(of('off', 'grewBytes') / 1e6).toFixed(2)} vs ${(of('limit', 'grewBytes') / 1e6).toFixed(2)} MB in all: the database's own pages and journal grow in steps)`, goal: 5, measured: +(of('off', 'auditSecondHalfBytes') / Math.max(1, of('limit', 'auditSecondHalfBytes'))).toFixed(2), unit: 'ratio', met: of('off', 'auditSecondHalfBytes') / Math.max(1, of('limit', 'auditSecondHalfBytes')) >= 5 },
];
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/open-join-churn.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds, loadAverage: { before: loadBefore, after: loadavg() }, rows, targets }, null, 2) + '\n');
for (const t of targets) console.log(`${t.met ? 'met ' : 'MISS'} ${t.target}: ${t.measured} (goal ${t.goal})`);
process.exit(0);
