/**
 * `npm run bench:disco` (`npx tsx bench/disco.ts [--users 2,8] [--reps 3] [--disco-dir DIR]`): fedtune against
 * DISCO (EPFL's federated learning in JS) on DISCO's own titanic task, side by side, interleaved (issue 14:
 * ≥ 4× faster per round, and a whole 5-round run of 2–8 sites faster than DISCO's).
 *
 * The task as DISCO defines it (discojs/src/default_tasks/titanic.ts): the columns Age, SibSp, Parch, Fare,
 * Pclass unscaled (missing values 0), a randomly initialised 5 → 124 → 64 → 32 → 1 network (fedtune: a 2-class
 * softmax head), Adam at 0.001, batch 30, 10 epochs in rounds of 2 (5 rounds), every user training on the same
 * file (DISCO's CLI gives each of its N users the whole file). Both on the tfjs wasm backend, on 127.0.0.1.
 * The file is bench/titanic-like-csv.ts's (the Kaggle file cannot be downloaded here), the same for both.
 *
 * fedtune: the `fedtune` bin as shipped — `fedtune coordinator` and N `fedtune client` processes launched
 * together; whole run = launch → the coordinator's exit; a round = report.json's round durations. Two settings:
 * the defaults (the final round's robustness evaluation and federated evaluation included) and like-for-like
 * (`--robustness never --federated-eval never`: what DISCO does). DISCO: its CLI's server and N users in one
 * process (DISCO_DIR, built by bench/disco/build-disco.sh from DISCO's source; not built, the DISCO side is
 * reported as missing and bench/results/disco.json is left as it was). Writes bench/results/disco.json.
 * `--client-bin PATH --fedtune-only`: an A/B of a site-side change (the clients of another build).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { modelToFiles } from '@fedtune/shared';
import { titanicLikeCsv } from './titanic-like-csv.ts';
import { freePort } from '../tests/helpers/redis-server.ts';

const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '2,8' },
    reps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    'disco-dir': { type: 'string', default: process.env.DISCO_DIR ?? '/work/disco' },
    /** A/B of a site-side change: the clients run this bin (another build's cli/bin/fedtune.mjs) instead of this tree's. */
    'client-bin': { type: 'string' },
    /** Only fedtune (no DISCO), e.g. with --client-bin. */
    'fedtune-only': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'fedtune.mjs');
const DISCO_RUNNER = join(ROOT, 'bench', 'disco', 'run-disco-titanic.mjs');
const USERS = args.users!.split(',').map(Number);
const REPS = Number(args.reps);
const ROUNDS = Number(args.rounds);
const EPOCHS_PER_ROUND = 2;
const BATCH = 30;
const COLUMNS = 'Age,SibSp,Parch,Fare,Pclass';
const TIMEOUT_MS = 300_000;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (x: number) => Number(x.toFixed(2));

/** DISCO's titanic network with a 2-class softmax head (fedtune's classifiers end in softmax over the classes). */
async function writeTitanicModel(dir: string): Promise<void> {
  tf.setBackend('cpu');
  const model = tf.sequential();
  model.add(tf.layers.dense({ inputShape: [5], units: 124, activation: 'relu', kernelInitializer: 'leCunNormal' }));
  model.add(tf.layers.dense({ units: 64, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 32, activation: 'relu' }));
  model.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
  const files = await modelToFiles(model, { classNames: ['0', '1'] });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.json'), JSON.stringify(files.modelJson));
  writeFileSync(join(dir, 'weights.bin'), files.weightsBin);
  model.dispose();
}

interface Run {
  wallSeconds: number;
  /** fedtune: launch → the coordinator's "listening on" line, and → each client's "joined run" line (s). */
  listeningSeconds?: number;
  joinedSeconds?: number[];
  /** fedtune: each round's slowest site training time as the sites reported it (ms). */
  trainMs?: number[];
  /** DISCO: launch → process exit (its lingering timer included), and its process's CPU seconds. */
  wallSecondsToExit?: number;
  cpuSeconds?: number;
  roundMs: number[];
  finalAccuracy: number | null;
}

/** The coordinator and `users` clients launched together; resolves when the coordinator exits. */
async function fedtuneRun(work: string, users: number, likeForLike: boolean): Promise<Run> {
  const port = await freePort();
  const out = mkdtempSync(join(work, 'runs-'));
  const coordinatorArgs = [BIN, 'coordinator', '--port', String(port), '--out', out, '--model', join(work, 'model'), '--holdout', join(work, 'holdout.csv'),
    '--label-column', 'Survived', '--feature-columns', COLUMNS, '--impute', 'zero', '--rounds', String(ROUNDS), '--epochs', String(EPOCHS_PER_ROUND), '--batch-size', String(BATCH),
    '--lr', '0.001', '--min-sites', String(users), '--backend', 'wasm', ...(likeForLike ? ['--robustness', 'never', '--federated-eval', 'never'] : [])];
  const started = performance.now();
  const children = [spawn(process.execPath, coordinatorArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })];
  for (let k = 0; k < users; k++) {
    children.push(spawn(process.execPath, [args['client-bin'] ?? BIN, 'client', '--server', `http://127.0.0.1:${port}`, '--site', `site-${k + 1}`, '--data', join(work, 'titanic_train.csv'),
      '--label-column', 'Survived', '--feature-columns', COLUMNS, '--impute', 'zero', '--policy', join(work, 'policy.json'), '--backend', 'wasm'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
  }
  let listeningSeconds: number | undefined;
  const joinedSeconds: number[] = [];
  const trainMs: number[] = [];
  children.forEach((c, k) =>
    c.stdout!.on('data', (d: Buffer) => {
      const at = (performance.now() - started) / 1000;
      if (k === 0 && listeningSeconds === undefined && / listening on /.test(d.toString())) listeningSeconds = r2(at);
      if (k > 0 && /^joined run /m.test(d.toString())) joinedSeconds.push(r2(at));
    }),
  );
  const stderr: string[] = [];
  for (const c of children) c.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), TIMEOUT_MS);
    children[0].on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  const wallSeconds = (performance.now() - started) / 1000;
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (code !== 0) throw new Error(`fedtune coordinator exited with ${code}: ${stderr.join('').slice(-2000)}`);
  const runDir = readdirSync(out).find((d) => d.startsWith('run-'))!;
  const report = JSON.parse(readFileSync(join(out, runDir, 'report.json'), 'utf8')) as { rounds: Array<{ durationMs: number; global?: { accuracy: number }; accepted: Array<{ durationMs?: number }> }> };
  // Each round's slowest site training, as the sites reported it (ms).
  trainMs.splice(0, trainMs.length, ...report.rounds.map((r) => Math.max(...r.accepted.map((a) => a.durationMs ?? 0))));
  rmSync(out, { recursive: true, force: true });
  return { wallSeconds, listeningSeconds, joinedSeconds, trainMs, roundMs: report.rounds.map((r) => r.durationMs), finalAccuracy: report.rounds.at(-1)?.global?.accuracy ?? null };
}

/** DISCO's CLI federation (server and users in one process), through bench/disco/run-disco-titanic.mjs. */
function discoRun(users: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [DISCO_RUNNER, '--disco', args['disco-dir']!, '--users', String(users), '--rounds', String(ROUNDS), '--roundDuration', String(EPOCHS_PER_ROUND), '--batchSize', String(BATCH)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const wallSeconds = (performance.now() - started) / 1000;
      const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
      if (code !== 0 || !line) return reject(new Error(`DISCO exited with ${code}: ${stderr.slice(-2000)}`));
      const parsed = JSON.parse(line) as { roundMs: number[]; wallSecondsToClose: number; cpuSeconds: number; finalAccuracy?: number; backend: string };
      if (parsed.backend !== 'wasm') return reject(new Error(`DISCO ran on ${parsed.backend}, not wasm`));
      // Its whole run ends when its server has closed: the process then lingers until a 15 s timer DISCO's client arms
      // at connect and never clears fires (discojs/src/client/utils.ts) — counted separately, not against it.
      resolve({ wallSeconds: parsed.wallSecondsToClose, wallSecondsToExit: r2(wallSeconds), cpuSeconds: parsed.cpuSeconds, roundMs: parsed.roundMs, finalAccuracy: parsed.finalAccuracy ?? null });
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'fedtune-bench-disco-'));
try {
  writeFileSync(join(work, 'titanic_train.csv'), titanicLikeCsv(891, 1912));
  // The coordinator's holdout: other passengers (missing ages filled with 0 by --impute zero, as DISCO's Sanitize does).
  writeFileSync(join(work, 'holdout.csv'), titanicLikeCsv(179, 1913));
  // A first layer of 124 units on 5 inputs is what the site's model inspection flags as an imprint trap by default.
  writeFileSync(join(work, 'policy.json'), JSON.stringify({ model: { inspection: { allow: ['wide_first_layer'] } } }));
  await writeTitanicModel(join(work, 'model'));
  const discoBuilt = !args['fedtune-only'] && existsSync(join(args['disco-dir']!, 'cli', 'dist')) && existsSync(DISCO_RUNNER);
  if (discoBuilt) mkdirSync(join(args['disco-dir']!, 'datasets'), { recursive: true }), writeFileSync(join(args['disco-dir']!, 'datasets', 'titanic_train.csv'), titanicLikeCsv(891, 1912));
  const results = [];
  for (const users of USERS) {
    const runs: Record<'fedtune' | 'fedtuneLikeForLike' | 'disco', Run[]> = { fedtune: [], fedtuneLikeForLike: [], disco: [] };
    for (let rep = 0; rep < REPS; rep++) {
      // Interleaved: one of each per repetition.
      runs.fedtune.push(await fedtuneRun(work, users, false));
      runs.fedtuneLikeForLike.push(await fedtuneRun(work, users, true));
      if (discoBuilt) runs.disco.push(await discoRun(users));
      const f = runs.fedtune.at(-1)!;
      console.log(`disco bench: ${users} users, repetition ${rep + 1}/${REPS}: fedtune ${f.wallSeconds.toFixed(2)} s (listening at ${f.listeningSeconds} s, sites joined at ${f.joinedSeconds?.join(' / ')} s), like-for-like ${runs.fedtuneLikeForLike.at(-1)!.wallSeconds.toFixed(2)} s${discoBuilt ? `, DISCO ${runs.disco.at(-1)!.wallSeconds.toFixed(2)} s` : ''} (load ${loadavg()[0].toFixed(1)})`);
    }
    const summary = (xs: Run[]) =>
      xs.length === 0
        ? null
        : { wallSeconds: r2(median(xs.map((x) => x.wallSeconds))), roundMsMedian: r2(median(xs.flatMap((x) => x.roundMs))), finalAccuracy: xs.map((x) => x.finalAccuracy), runs: xs };
    results.push({ users, fedtune: summary(runs.fedtune), fedtuneLikeForLike: summary(runs.fedtuneLikeForLike), disco: summary(runs.disco) });
  }
  // Per round, two rows: fedtune's defaults (its final round also calibrates, evaluates on every site and evaluates
  // robustness, which DISCO does not do) and like-for-like (the same work per round as DISCO's).
  const targets = results.flatMap((r) =>
    r.disco && r.fedtune && r.fedtuneLikeForLike
      ? [
          ...([['defaults', r.fedtune], ['like-for-like: no robustness or federated evaluation', r.fedtuneLikeForLike]] as const).map(([how, f]) => ({
            target: `DISCO's titanic task, ${r.users} sites: DISCO's round time ÷ fedtune's (median over rounds; fedtune ${how})`,
            goal: 4,
            measured: r2(r.disco!.roundMsMedian / f.roundMsMedian),
            unit: 'ratio',
            met: r.disco!.roundMsMedian / f.roundMsMedian >= 4,
          })),
          { target: `DISCO's titanic task, ${r.users} sites: whole 5-round run, fedtune (defaults) ÷ DISCO (launch → done)`, goal: 1, measured: r2(r.fedtune.wallSeconds / r.disco.wallSeconds), unit: 'ratio', met: r.fedtune.wallSeconds < r.disco.wallSeconds },
        ]
      : [],
  );
  // Without DISCO there is nothing to compare: the fedtune side is printed, and written only where --out says.
  const outFile = args.out ?? (discoBuilt ? 'bench/results/disco.json' : undefined);
  if (!outFile) console.log(`DISCO is not built in ${args['disco-dir']} (bench/disco/build-disco.sh): the fedtune side only, bench/results/disco.json left as it was`);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  if (outFile) writeFileSync(resolve(ROOT, outFile), `${JSON.stringify({ date: new Date().toISOString(), loadAverage: loadavg(), discoDir: discoBuilt ? args['disco-dir'] : null, discoMissing: discoBuilt ? undefined : 'DISCO not built here (bench/disco/build-disco.sh)', rounds: ROUNDS, results, targets }, null, 2)}\n`);
  console.log(JSON.stringify({ results: results.map((r) => ({ users: r.users, fedtune: r.fedtune && { ...r.fedtune, runs: undefined }, fedtuneLikeForLike: r.fedtuneLikeForLike && { ...r.fedtuneLikeForLike, runs: undefined }, disco: r.disco && { ...r.disco, runs: undefined } })), targets }, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}
