/**
 * `fedtune simulate --workers 1` against `--workers N` (default 2) of this tree, interleaved in one run, so
 * the ratio holds on a shared machine: throughput = rounds per wall-second of the whole command; the CPU
 * seconds of each child process are reported too. The final accuracy must be the same (the fit pool trains
 * bit-identical weights).
 *
 *   npx tsx bench/simulate-workers.ts [--workers 2] [--reps 2] [--rounds 5] [--sites 8] [--arch mlp]
 *
 * Writes bench/results/simulate-workers.json (with --arch other than mlp: simulate-workers-<arch>.json).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}
const workers = Number(arg('workers', '2'));
const reps = Number(arg('reps', '2'));
const rounds = Number(arg('rounds', '5'));
const sites = Number(arg('sites', '8'));
const arch = arg('arch', 'mlp');

interface RunResult {
  wallS: number;
  cpuS: number;
  rounds: number;
  finalAccuracy: number;
  roundsPerS: number;
}

function runSimulate(threads: number): RunResult {
  const out = mkdtempSync(join(tmpdir(), 'fedtune-sim-workers-'));
  try {
    const started = process.hrtime.bigint();
    const r = spawnSync(
      'bash',
      ['-c', `TIMEFORMAT='%U %S'; time "${process.execPath}" "${join(root, 'cli', 'bin', 'fedtune.mjs')}" simulate --out "${out}" --rounds ${rounds} --sites ${sites} --arch ${arch} --workers ${threads} > /dev/null`],
      { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
    );
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.status !== 0) throw new Error(`simulate --workers ${threads} failed (${r.status}): ${r.stderr.slice(-2000)}`);
    const [user, sys] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
    const runDir = readdirSync(out).map((d) => join(out, d)).find((d) => existsSync(join(d, 'report.json')));
    if (!runDir) throw new Error(`no report.json under ${out}`);
    const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as { rounds: unknown[]; final?: { accuracy: number } };
    return { wallS, cpuS: user + sys, rounds: report.rounds.length, finalAccuracy: report.final?.accuracy ?? NaN, roundsPerS: report.rounds.length / wallS };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const loadBefore = loadavg()[0];
const runs: { one: RunResult[]; many: RunResult[] } = { one: [], many: [] };
for (let r = 0; r < reps; r++) {
  for (const arm of (r % 2 ? ['many', 'one'] : ['one', 'many']) as Array<'one' | 'many'>) {
    const result = runSimulate(arm === 'one' ? 1 : workers);
    runs[arm].push(result);
    console.log(`--workers ${arm === 'one' ? 1 : workers} rep ${r + 1}: ${result.wallS.toFixed(1)} s wall, ${result.cpuS.toFixed(1)} s CPU, ${result.rounds} rounds, final ${(100 * result.finalAccuracy).toFixed(2)}%`);
  }
}
const one = median(runs.one.map((r) => r.roundsPerS));
const many = median(runs.many.map((r) => r.roundsPerS));
const ratio = many / one;
const sameAccuracy = runs.one.concat(runs.many).every((r) => r.finalAccuracy === runs.one[0].finalAccuracy);
const result = {
  date: new Date().toISOString(),
  node: process.version,
  workers,
  reps,
  rounds,
  sites,
  arch,
  loadAverage: { before: loadBefore, after: loadavg()[0] },
  one: { roundsPerS: one, cpuS: median(runs.one.map((r) => r.cpuS)), runs: runs.one },
  many: { roundsPerS: many, cpuS: median(runs.many.map((r) => r.cpuS)), runs: runs.many },
  targets: [
    {
      target: `fedtune simulate${arch === 'mlp' ? '' : ` --arch ${arch}`} --workers ${workers} vs --workers 1 (rounds per wall-second, identical final accuracy)`,
      goal: 1.5,
      measured: ratio,
      unit: 'ratio',
      met: ratio >= 1.5 && sameAccuracy,
      note: `final accuracy ${sameAccuracy ? 'identical' : 'DIFFERS'} across all runs; load average ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)} on a shared machine`,
    },
  ],
};
mkdirSync(join(import.meta.dirname, 'results'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'results', arch === 'mlp' ? 'simulate-workers.json' : `simulate-workers-${arch}.json`), JSON.stringify(result, null, 2));
console.log(`--workers ${workers}: ${many.toFixed(3)} vs ${one.toFixed(3)} rounds/s → ${ratio.toFixed(2)}×; accuracy ${sameAccuracy ? 'identical' : 'differs'}`);
