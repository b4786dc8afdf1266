/**
 * `npm run bench:simulate`: the default `fedtune simulate` (8 sites, 10 rounds, socket.io on loopback) of this
 * tree against the same command of a baseline commit, interleaved in one run, so the ratio holds on a shared
 * machine. Throughput = rounds per wall-second of the whole command (start-up, rounds, final robustness
 * evaluation, writes); the ratio only counts when the final holdout accuracy agrees within ±0.5 points.
 *
 *   npx tsx bench/simulate-throughput.ts [--baseline <commit>] [--reps 3] [--rounds 10]
 *
 * The baseline tree is a detached git worktree under /tmp (created on first use, with a copy of this
 * tree's node_modules, so nothing is downloaded). Writes bench/results/simulate-throughput.json.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
/** The last commit before issue 14's work: the code the issue measured. */
const baselineCommit = arg('baseline', 'ba17554');
const reps = Number(arg('reps', '3'));
const rounds = Number(arg('rounds', '10'));

function ensureBaseline(commit: string): string {
  const sha = execFileSync('git', ['rev-parse', commit], { cwd: root, encoding: 'utf8' }).trim();
  const dir = join(tmpdir(), `fedtune-baseline-${sha.slice(0, 12)}`);
  if (!existsSync(join(dir, 'cli', 'bin', 'fedtune.mjs'))) {
    rmSync(dir, { recursive: true, force: true });
    execFileSync('git', ['worktree', 'add', '--force', '--detach', dir, sha], { cwd: root, stdio: 'ignore' });
  }
  if (!existsSync(join(dir, 'node_modules'))) {
    // Relative workspace symlinks (node_modules/@fedtune/* → ../../shared …) resolve inside the copy.
    cpSync(join(root, 'node_modules'), join(dir, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  }
  return dir;
}

interface RunResult {
  wallS: number;
  rounds: number;
  finalAccuracy: number;
  roundsPerS: number;
}

function runSimulate(tree: string): RunResult {
  const out = mkdtempSync(join(tmpdir(), 'fedtune-sim-bench-'));
  try {
    const started = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [join(tree, 'cli', 'bin', 'fedtune.mjs'), 'simulate', '--out', out, '--rounds', String(rounds)], {
      cwd: tree,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.status !== 0) throw new Error(`simulate in ${tree} failed (${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`);
    const runDir = readdirSync(out).map((d) => join(out, d)).find((d) => existsSync(join(d, 'report.json')));
    if (!runDir) throw new Error(`no report.json under ${out}`);
    const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as { rounds: unknown[]; final?: { accuracy: number } };
    const done = report.rounds.length;
    return { wallS, rounds: done, finalAccuracy: report.final?.accuracy ?? NaN, roundsPerS: done / wallS };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const baseline = ensureBaseline(baselineCommit);
const load = { before: loadavg()[0] };
const runs: { baseline: RunResult[]; current: RunResult[] } = { baseline: [], current: [] };
for (let r = 0; r < reps; r++) {
  // Interleaved: a change in the machine's load hits both arms.
  for (const arm of (r % 2 ? ['current', 'baseline'] : ['baseline', 'current']) as Array<'baseline' | 'current'>) {
    const result = runSimulate(arm === 'baseline' ? baseline : root);
    runs[arm].push(result);
    console.log(`${arm.padEnd(8)} rep ${r + 1}: ${result.wallS.toFixed(1)} s, ${result.rounds} rounds, final ${(100 * result.finalAccuracy).toFixed(1)}%`);
  }
}
const b = median(runs.baseline.map((r) => r.roundsPerS));
const c = median(runs.current.map((r) => r.roundsPerS));
const accB = median(runs.baseline.map((r) => r.finalAccuracy));
const accC = median(runs.current.map((r) => r.finalAccuracy));
const accuracyGap = Math.abs(accC - accB) * 100;
const ratio = c / b;
const result = {
  date: new Date().toISOString(),
  node: process.version,
  baselineCommit,
  reps,
  rounds,
  loadAverage: { before: load.before, after: loadavg()[0] },
  baseline: { roundsPerS: b, finalAccuracy: accB, runs: runs.baseline },
  current: { roundsPerS: c, finalAccuracy: accC, runs: runs.current },
  targets: [
    {
      target: 'default fedtune simulate throughput (rounds per wall-second) vs the baseline commit, same final accuracy ±0.5',
      goal: 2,
      measured: ratio,
      unit: 'ratio',
      met: ratio >= 2 && accuracyGap <= 0.5,
      note: `final accuracy ${(100 * accB).toFixed(1)}% → ${(100 * accC).toFixed(1)}% (gap ${accuracyGap.toFixed(2)} points)`,
    },
  ],
};
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', 'simulate-throughput.json'), JSON.stringify(result, null, 2));
console.log(`throughput ${c.toFixed(3)} vs ${b.toFixed(3)} rounds/s → ${ratio.toFixed(2)}× (goal ≥ 2); final accuracy ${(100 * accB).toFixed(1)}% → ${(100 * accC).toFixed(1)}%`);
