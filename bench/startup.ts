/**
 * `npm run bench:startup` (`npx tsx bench/startup.ts [--reps 5]`): how fast `fedtune` starts.
 *   - `fedtune client`: launch → "joined run" (connected, hello accepted, ready for a round) against a
 *     running coordinator, with a CSV site, and its peak resident memory (VmHWM) at that moment;
 *   - `fedtune coordinator`: launch → "listening on".
 * Each is measured for the baseline — the CLI as before issue 14: TypeScript through tsx, every subcommand
 * imported (bench/startup-eager-cli.ts) —, for the compiled modules without their bundle (the bin with
 * FEDTUNE_BUNDLE=0: cli/dist, the subcommand alone) and for the bin as shipped (the subcommand's bundle
 * through its V8 code cache; `npm run build:js` first), interleaved, medians of --reps. Wall time and the process's own CPU time
 * (/proc/<pid>/stat at the ready line) are both reported: the machine may be shared. Writes
 * bench/results/startup.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compiledEntry } from '../cli/bin/compiled-entry.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'cli', 'bin', 'fedtune.mjs');
const EAGER = join(ROOT, 'bench', 'startup-eager-cli.ts');
const argReps = process.argv.indexOf('--reps');
const REPS = argReps > 0 ? Number(process.argv[argReps + 1]) : 5;
const TIMEOUT_MS = 60_000;

type Variant = 'baseline' | 'compiled' | 'bundled';
const VARIANTS: Variant[] = ['baseline', 'compiled', 'bundled'];
/** The environment of each variant: `compiled` is the bin without its bundles. */
const VARIANT_ENV: Record<Variant, NodeJS.ProcessEnv> = { baseline: {}, compiled: { FEDTUNE_BUNDLE: '0' }, bundled: {} };
interface Sample {
  wallMs: number;
  cpuMs: number;
  peakRssMb: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, digits = 1) => Number(x.toFixed(digits));

function command(variant: Variant, args: string[]): string[] {
  // The bundled variant runs exactly what a user runs: the bin (FEDTUNE_FROM_SOURCE unset).
  return variant === 'baseline' ? ['--import', 'tsx', EAGER, ...args] : [BIN, ...args];
}

/** CPU time (user + system) of a live process, from /proc/<pid>/stat, in ms. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function peakRssMbOf(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
}

/** Spawns `node args`, waits for a stdout line matching `ready`, samples the process, and kills it. */
function timeToLine(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<Sample & { line: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no ${ready} within ${TIMEOUT_MS} ms: ${out.slice(-500)} ${err.slice(-500)}`));
    }, TIMEOUT_MS);
    child.stderr.on('data', (chunk) => (err += chunk));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const line = out.split('\n').find((l) => ready.test(l));
      if (!line) return;
      const wallMs = performance.now() - started;
      const sample = { wallMs, cpuMs: cpuMsOf(child.pid!), peakRssMb: peakRssMbOf(child.pid!), line };
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.once('exit', () => resolve(sample));
      child.kill('SIGKILL');
    });
    child.once('exit', (code) => {
      if (!out.split('\n').some((l) => ready.test(l))) {
        clearTimeout(timer);
        reject(new Error(`exited (${code}) before ${ready}: ${out.slice(-500)} ${err.slice(-500)}`));
      }
    });
  });
}

const entry = compiledEntry(ROOT);
if (!entry.url) {
  console.error(`bench/startup: the compiled build is not current (${entry.reason}): run npm run build:js first`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'fedtune-startup-'));
try {
  // A site's CSV, as a hospital would have it (one share of the built-in task).
  const partition = spawnSync(process.execPath, [BIN, 'partition', '--task', 'digits', '--sites', '8', '--seed', '1', '--out', join(work, 'data')], { cwd: ROOT, encoding: 'utf8' });
  if (partition.status !== 0) throw new Error(`fedtune partition failed: ${partition.stderr}`);
  const csv = join(work, 'data', 'site-1.csv');

  // The coordinator the clients join: it waits for more sites than will ever come, so no round starts.
  const coordinatorArgs = (out: string) => ['coordinator', '--port', '0', '--rounds', '1', '--min-sites', '1000', '--hello-limit', '100000', '--out', out];
  const server = spawn(process.execPath, [BIN, ...coordinatorArgs(join(work, 'server-runs'))], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk) => {
      out += chunk;
      const match = / listening on (http:\/\/[^;\s]+)/.exec(out);
      if (match) resolve(match[1]);
    });
    server.once('exit', (code) => reject(new Error(`coordinator exited (${code}): ${out}`)));
  });

  const samples: Record<'client' | 'coordinator', Record<Variant, Sample[]>> = {
    client: { baseline: [], compiled: [], bundled: [] },
    coordinator: { baseline: [], compiled: [], bundled: [] },
  };
  let site = 0;
  for (let rep = 0; rep < REPS; rep++) {
    // Interleaved, rotating which variant goes first.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + rep) % VARIANTS.length]);
    for (const variant of order) {
      const client = await timeToLine(command(variant, ['client', '--server', url, '--site', `bench-${variant}-${site++}`, '--data', csv]), /^joined run /, VARIANT_ENV[variant]);
      samples.client[variant].push(client);
      const runs = join(work, `runs-${variant}-${rep}`);
      mkdirSync(runs);
      const coordinator = await timeToLine(command(variant, coordinatorArgs(runs)), / listening on http/, VARIANT_ENV[variant]);
      samples.coordinator[variant].push(coordinator);
      console.log(`rep ${rep + 1}/${REPS} ${variant.padEnd(8)} client ready ${client.wallMs.toFixed(0)} ms (cpu ${client.cpuMs.toFixed(0)} ms, peak ${client.peakRssMb.toFixed(0)} MB); coordinator listening ${coordinator.wallMs.toFixed(0)} ms (cpu ${coordinator.cpuMs.toFixed(0)} ms, peak ${coordinator.peakRssMb.toFixed(0)} MB)`);
    }
  }
  server.kill('SIGKILL');

  const summary = (xs: Sample[]) => ({ wallMs: round(median(xs.map((s) => s.wallMs)), 0), cpuMs: round(median(xs.map((s) => s.cpuMs)), 0), peakRssMb: round(median(xs.map((s) => s.peakRssMb))) });
  const client = Object.fromEntries(VARIANTS.map((v) => [v, summary(samples.client[v])])) as Record<Variant, ReturnType<typeof summary>>;
  const coordinator = Object.fromEntries(VARIANTS.map((v) => [v, summary(samples.coordinator[v])])) as Record<Variant, ReturnType<typeof summary>>;
  const loadAverage1m = round(loadavg()[0], 2);
  const targets = [
    { target: '`fedtune client` launch → connected and ready (median wall)', goal: 0.5, measured: round(client.bundled.wallMs / 1000, 3), unit: 's', met: client.bundled.wallMs <= 500 },
    { target: '`fedtune client` peak resident memory when ready (median VmHWM)', goal: 100, measured: client.bundled.peakRssMb, unit: 'MB', met: client.bundled.peakRssMb <= 100 },
    { target: '`fedtune coordinator` launch → listening (median wall)', goal: 0.6, measured: round(coordinator.bundled.wallMs / 1000, 3), unit: 's', met: coordinator.bundled.wallMs <= 600 },
    // The same goals in the process's own CPU time: what the wall time would be on an idle core (a shared
    // machine inflates wall time; start-up is single-threaded, so CPU time ≈ wall time when idle).
    { target: `\`fedtune client\` launch → ready, process CPU time (median; the wall goal on an idle core; load ${loadAverage1m})`, goal: 0.5, measured: round(client.bundled.cpuMs / 1000, 3), unit: 's', met: client.bundled.cpuMs <= 500 },
    { target: `\`fedtune coordinator\` launch → listening, process CPU time (median; the wall goal on an idle core; load ${loadAverage1m})`, goal: 0.6, measured: round(coordinator.bundled.cpuMs / 1000, 3), unit: 's', met: coordinator.bundled.cpuMs <= 600 },
  ];
  const ratio = (a: number, b: number) => round(a / b, 2);
  const result = {
    bench: 'startup',
    node: process.version,
    reps: REPS,
    loadAverage1m,
    cores: (await import('node:os')).cpus().length,
    variants: {
      baseline: 'TypeScript through tsx, every subcommand imported (bench/startup-eager-cli.ts)',
      compiled: 'the fedtune bin with FEDTUNE_BUNDLE=0: compiled JavaScript modules (cli/dist), only the subcommand run',
      bundled: 'the fedtune bin as shipped: the subcommand\'s bundle (cli/dist/bundles) through its V8 code cache',
    },
    client,
    coordinator,
    ratios: {
      bundledVsBaseline: { clientWall: ratio(client.baseline.wallMs, client.bundled.wallMs), clientCpu: ratio(client.baseline.cpuMs, client.bundled.cpuMs), clientPeakRss: ratio(client.baseline.peakRssMb, client.bundled.peakRssMb), coordinatorWall: ratio(coordinator.baseline.wallMs, coordinator.bundled.wallMs), coordinatorCpu: ratio(coordinator.baseline.cpuMs, coordinator.bundled.cpuMs), coordinatorPeakRss: ratio(coordinator.baseline.peakRssMb, coordinator.bundled.peakRssMb) },
      bundledVsCompiled: { clientWall: ratio(client.compiled.wallMs, client.bundled.wallMs), clientCpu: ratio(client.compiled.cpuMs, client.bundled.cpuMs), clientPeakRss: ratio(client.compiled.peakRssMb, client.bundled.peakRssMb), coordinatorWall: ratio(coordinator.compiled.wallMs, coordinator.bundled.wallMs), coordinatorCpu: ratio(coordinator.compiled.cpuMs, coordinator.bundled.cpuMs), coordinatorPeakRss: ratio(coordinator.compiled.peakRssMb, coordinator.bundled.peakRssMb) },
    },
    targets,
  };
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench', 'results', 'startup.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.table(Object.fromEntries(['client', 'coordinator'].flatMap((k) => VARIANTS.map((v) => [`${k} ${v}`, (result as any)[k][v]]))));
  for (const t of targets) console.log(`${t.met ? 'met    ' : 'NOT met'} ${t.target}: ${t.measured} ${t.unit} (goal ≤ ${t.goal})`);
  console.log(`load average ${result.loadAverage1m} on ${result.cores} cores; wrote bench/results/startup.json`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
