import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunReport } from '@fedtune/shared';
import { sweepCommand, sweepSettingsFromCommand } from '../../cli/src/commands/sweep-command.ts';
import { planSweep } from '../../cli/src/sweep/sweep-plan.ts';
import { loadSearchSpaceFile } from '../../cli/src/sweep/search-space.ts';
import { parseOnly } from '../cli-options/parse-command.ts';
import { RUN_CONFIG_FLAGS } from '../../cli/src/commands/run-config-flags.ts';
import { runSweep } from '../../cli/src/sweep/run-sweep.ts';
import { readSweepRecord, type SweepRecord } from '../../cli/src/sweep/sweep-record.ts';
import type { SimulationOptions } from '../../cli/src/simulation/run-simulation.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * Every option of `fedtune sweep` has a row here with a concrete check that a non-default value changes
 * what the sweep runs: the real command and the real runSweep, with trials answered by a runner that
 * trains nothing (clean = the learning rate, robust = 1 − it, at the scanners' headline ε 0.06; 0.3 at any other ε) and records
 * the simulation options each trial got. The command's option list is walked, so a new option without a
 * row fails.
 */

const dir = tempDir();
const logs: string[] = [];
beforeAll(() => void vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a.join(' '))));
afterAll(() => vi.restoreAllMocks());

interface Sweep {
  calls: SimulationOptions[];
  record: SweepRecord;
  out: string;
  stdout: string;
}

let n = 0;
async function sweep(argv: string[], out = join(dir, `s${n++}`)): Promise<Sweep> {
  const calls: SimulationOptions[] = [];
  const runSimulation = async (o: SimulationOptions) => {
    calls.push(o);
    const lr = Number((o.config as { train?: { learningRate?: number } }).train?.learningRate ?? 0.5);
    const pgd = ((o.config as { robustness: { pgd: number[] } }).robustness.pgd ?? []).map((eps) => ({ eps, steps: 3, stepSize: 0.01, accuracy: eps === 0.06 ? 1 - lr : 0.3 }));
    const report = { status: 'complete', final: { accuracy: lr }, finalRobustness: { clean: { accuracy: lr, ece: 0.1 }, pgd } } as unknown as RunReport;
    return { report, reportPath: join(o.out, String(o.config!.runId), 'report.json') };
  };
  const command = sweepCommand({ runSweep, runSimulation });
  command.exitOverride();
  const before = logs.length;
  const hasOut = argv.includes('--out') || argv.includes('--resume');
  await command.parseAsync([...argv, ...(hasOut ? [] : ['--out', out]), ...(argv.includes('--backend') ? [] : ['--backend', 'cpu'])], { from: 'user' });
  const used = argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : argv.includes('--resume') ? argv[argv.indexOf('--resume') + 1] : out;
  return { calls, record: readSweepRecord(used)!, out: used, stdout: logs.slice(before).join('\n') };
}

const LRS = ['--param', 'train.learningRate=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9'];
const firstRung = (s: Sweep) => s.record.results.filter((r) => r.rung === 0);
const lastRung = (s: Sweep) => s.record.results.filter((r) => r.rung === s.record.rungs.length - 1);
const cfg = (o: SimulationOptions) => o.config as Record<string, any>;

const spaceFile = join(dir, 'space.yaml');
writeFileSync(spaceFile, 'params:\n  train.epochs: [1, 2, 3]\n');
const configFile = join(dir, 'run.yaml');
writeFileSync(configFile, 'train:\n  batchSize: 8\n');

const ROWS: Record<string, () => Promise<void>> = {
  '--space': async () => {
    const s = await sweep(['--space', spaceFile, '--max-rounds', '1']);
    expect(s.calls.map((c) => cfg(c).train.epochs)).toEqual([1, 2, 3]);
  },
  '--param': async () => {
    const s = await sweep(['--param', 'train.epochs=2,4', '--param', 'sites=3,5', '--max-rounds', '1']);
    expect(s.calls.map((c) => [cfg(c).train.epochs, c.sites])).toEqual([[2, 3], [2, 5], [4, 3], [4, 5]]);
  },
  '--search': async () => {
    const s = await sweep(['--search', 'random', '--param', 'train.learningRate=0.001..0.1:log', '--max-rounds', '1']);
    expect(s.calls).toHaveLength(10);
    expect(new Set(s.calls.map((c) => cfg(c).train.learningRate)).size).toBe(10);
    await expect(sweep(['--param', 'train.learningRate=0.001..0.1'])).rejects.toThrow(/grid search needs a list/);
  },
  '--trials': async () => {
    expect((await sweep(['--search', 'random', '--trials', '3', '--param', 'train.epochs=1..9:int', '--max-rounds', '1'])).calls).toHaveLength(3);
    await expect(sweep(['--trials', '3', '--param', 'train.epochs=1,2'])).rejects.toThrow(/trials is for random search/);
  },
  '--min-rounds': async () => {
    const s = await sweep([...LRS, '--min-rounds', '3', '--max-rounds', '9']);
    expect(s.record.rungs).toEqual([3, 9]);
    expect(s.calls[0].config!.rounds).toBe(3);
  },
  '--max-rounds': async () => {
    const s = await sweep([...LRS, '--max-rounds', '3']);
    expect(s.record.rungs).toEqual([1, 3]);
    expect(s.calls.at(-1)!.config!.rounds).toBe(3);
  },
  '--eta': async () => {
    const s = await sweep([...LRS, '--eta', '2', '--max-rounds', '2']);
    expect(lastRung(s)).toHaveLength(4);
    expect((await sweep([...LRS, '--max-rounds', '3'])).record.results.filter((r) => r.rung === 1)).toHaveLength(3);
  },
  '--objective': async () => {
    const clean = await sweep([...LRS, '--objective', 'clean', '--max-rounds', '3']);
    const robust = await sweep([...LRS, '--objective', 'robust', '--max-rounds', '3']);
    expect(lastRung(clean).map((r) => r.trial)).toEqual([8, 7, 6]);
    expect(lastRung(robust).map((r) => r.trial)).toEqual([0, 1, 2]);
    expect(clean.stdout).toMatch(/ clean +status/);
  },
  '--robust-eps': async () => {
    const s = await sweep([...LRS, '--robust-eps', '0.05', '--max-rounds', '1']);
    expect(cfg(s.calls[0]).robustness.pgd).toContain(0.05);
    expect(firstRung(s).every((r) => r.robust === 0.3)).toBe(true);
    // Default: the built-in task's headline ε — 0.06 on the scanners (where ε 0.1 leaves every plain model at 0 %), 0.1 on clean digits.
    const d = await sweep([...LRS, '--max-rounds', '1']);
    expect(d.record.settings.robustEps).toBe(0.06);
    expect(cfg(d.calls[0]).robustness.pgd).toContain(0.06);
    expect(firstRung(d)[0].robust).toBeCloseTo(0.9);
    expect(d.stdout).toMatch(/PGD ε=0\.06/);
    const clean = await sweep([...LRS, '--max-rounds', '1', '--no-feature-shift']);
    expect(clean.record.settings.robustEps).toBe(0.1);
    expect(firstRung(clean).every((r) => r.robust === 0.3)).toBe(true);
  },
  '--out': async () => {
    const out = join(dir, 'chosen-out');
    const s = await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--out', out]);
    expect(existsSync(join(out, 'sweep.json'))).toBe(true);
    expect(existsSync(join(out, 'sweep.html'))).toBe(true);
    expect(s.calls[0].out).toBe(join(out, 'runs'));
  },
  '--resume': async () => {
    const out = join(dir, 'resumed');
    await sweep(['--param', 'train.epochs=1,2', '--max-rounds', '1', '--sites', '3', '--out', out]);
    const record = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepRecord;
    record.results.pop();
    writeFileSync(join(out, 'sweep.json'), JSON.stringify(record));
    const s = await sweep(['--resume', out]);
    // Only the dropped trial runs again, with the stored settings (3 sites), not the flags' defaults.
    expect(s.calls.map((c) => [c.config!.runId, c.sites])).toEqual([['trial-001-r1', 3]]);
    await expect(sweep(['--resume', out, '--eta', '4'])).rejects.toThrow(/--resume takes the sweep's settings .*: drop eta/);
    await expect(sweep(['--resume', out, '--lr', '0.1'])).rejects.toThrow(/drop train/);
    await expect(sweep(['--resume', join(dir, 'nothing-here')])).rejects.toThrow(/--resume .*nothing-here: no such directory/);
    await expect(sweep(['--resume', dir])).rejects.toThrow(/holds no sweep/);
  },
  '--json': async () => {
    const s = await sweep(['--param', 'train.epochs=1,2', '--max-rounds', '1', '--json']);
    expect(JSON.parse(s.stdout)).toEqual(s.record);
    const t = await sweep(['--param', 'train.epochs=1,2', '--max-rounds', '1']);
    expect(t.stdout).toContain('Pareto front of clean vs PGD ε=0.06 accuracy');
  },
  '--sites': async () => expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--sites', '6'])).calls[0].sites).toBe(6),
  '--partition': async () => expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--partition', 'iid'])).calls[0].partition).toBe('iid'),
  '--arch': async () => {
    expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--arch', 'cnn'])).calls[0].architecture).toBe('cnn');
    await expect(sweep(['--param', 'train.epochs=1', '--arch', 'vit'])).rejects.toThrow(/unknown architecture "vit" for the digits task \(known: cnn, cnn-bn, cnn-dense, cnn-wide, mlp\)/);
  },
  '--no-feature-shift': async () => {
    expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--no-feature-shift'])).calls[0].featureShift).toBe(false);
    expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1'])).calls[0].featureShift).toBe(true);
  },
  '--transport': async () => {
    expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--transport', 'socket'])).calls[0].transport).toBe('socket');
    expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1'])).calls[0].transport).toBe('memory');
  },
  '--backend': async () => expect((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--backend', 'wasm'])).calls[0].backend).toBe('wasm'),
  // Run-config flags: the same builder as simulate's (run-config-flags.test.ts checks each field); here, that they reach every trial.
  '--config': async () => expect(cfg((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--config', configFile])).calls[0]).train.batchSize).toBe(8),
  '--lr': async () => expect(cfg((await sweep(['--param', 'train.epochs=1,2', '--max-rounds', '1', '--lr', '0.05'])).calls[1]).train.learningRate).toBe(0.05),
  '--max-examples': async () => expect(cfg((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--max-examples', '64'])).calls[0]).train.maxExamples).toBe(64),
  '--seed': async () => {
    const random = ['--search', 'random', '--trials', '3', '--param', 'train.learningRate=0.001..0.1', '--max-rounds', '1'];
    const a = await sweep([...random, '--seed', '5']);
    const b = await sweep(random);
    expect(cfg(a.calls[0]).seed).toBe(5);
    expect(a.record.settings.seed).toBe(5);
    expect(a.calls.map((c) => cfg(c).train.learningRate)).not.toEqual(b.calls.map((c) => cfg(c).train.learningRate));
  },
  '--robustness': async () => {
    expect(cfg((await sweep(['--param', 'train.epochs=1', '--max-rounds', '1', '--robustness', '2'])).calls[0]).robustness.when).toBe(2);
    await expect(sweep(['--param', 'train.epochs=1', '--robustness', 'never'])).rejects.toThrow(/needs the final robustness evaluation/);
  },
};

describe('every option of fedtune sweep changes what it runs', () => {
  const runConfigFlags = RUN_CONFIG_FLAGS.map((f) => f.flags.split(' ')[0]);
  const declared = sweepCommand().options.map((o) => o.long!);

  it('declares every run-config flag but --rounds and --run-id (the rungs set rounds, each trial its run id)', () => {
    for (const flag of runConfigFlags.filter((f) => f !== '--rounds' && f !== '--run-id')) expect(declared).toContain(flag);
    expect(declared).not.toContain('--rounds');
    expect(declared).not.toContain('--run-id');
  });

  it('the table has a row for every option that is not a run-config flag', () => {
    for (const flag of declared.filter((f) => !runConfigFlags.includes(f))) expect(Object.keys(ROWS), flag).toContain(flag);
  });

  it.each(Object.keys(ROWS))('%s', async (flag) => ROWS[flag](), 60_000);
});

describe('the README and docs/sweep.md examples', () => {
  const ROOT = join(import.meta.dirname, '..', '..');
  const lines = [readFileSync(join(ROOT, 'README.md'), 'utf8'), readFileSync(join(ROOT, 'docs', 'sweep.md'), 'utf8')]
    .flatMap((text) => text.replace(/\\\n\s*/g, '').split('\n'))
    .filter((l) => l.startsWith('npx fedtune sweep') && !l.includes('--resume') && !l.includes('--space'));

  it.each(lines)('%s parses into a plan', async (line) => {
    const argv = line.replace(/#.*$/, '').trim().split(/\s+/).slice(3);
    const settings = sweepSettingsFromCommand(await parseOnly(sweepCommand(), argv));
    expect(planSweep(settings).trials.length).toBeGreaterThan(1);
  });

  it('there is at least one', () => expect(lines.length).toBeGreaterThanOrEqual(2));

  it('the search-space file of docs/sweep.md loads', () => {
    const yaml = /```yaml\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'docs', 'sweep.md'), 'utf8'))![1].replace(/^ {2}/gm, '');
    const path = join(dir, 'docs-space.yaml');
    writeFileSync(path, yaml);
    expect(Object.keys(loadSearchSpaceFile(path))).toEqual(['train.learningRate', 'train.epochs', 'arch']);
  });
});

describe('settings a sweep would silently drop are refused with one line naming both', () => {
  const settingsOf = async (argv: string[]) => sweepSettingsFromCommand(await parseOnly(sweepCommand(), argv));
  const roundsFile = join(dir, 'rounds.yaml');
  writeFileSync(roundsFile, 'rounds: 5\ntrain:\n  batchSize: 8\n');
  const lrFile = join(dir, 'lr.yaml');
  writeFileSync(lrFile, 'train:\n  learningRate: 0.05\n');
  const ROWS: Array<[refused: string[], message: RegExp, accepted: string[]]> = [
    [['--param', 'train.learningRate=0.1,0.2', '--lr', '0.05'], /^--param train.learningRate searches train.learningRate: --lr would be overridden in every trial; give one of them$/, ['--param', 'train.learningRate=0.1,0.2', '--epochs', '2']],
    [['--param', 'sites=3,5', '--sites', '6'], /^--param sites searches sites: --sites would be overridden in every trial/, ['--param', 'sites=3,5', '--lr', '0.05']],
    [['--param', 'featureShift=true,false', '--no-feature-shift'], /^--param featureShift searches featureShift: --no-feature-shift would be overridden/, ['--param', 'featureShift=true,false']],
    [['--param', 'train.learningRate=0.1,0.2', '--config', lrFile], /^--param train.learningRate searches train.learningRate: its value in .*lr.yaml would be overridden in every trial/, ['--param', 'train.epochs=1,2', '--config', lrFile]],
    [['--param', 'train.epochs=1,2', '--config', roundsFile], /rounds.yaml sets rounds, but a sweep's rounds are its rungs \(--min-rounds, --max-rounds\): drop rounds from the file$/, ['--param', 'train.epochs=1,2', '--config', configFile]],
    [['--param', 'train.epochs=1,2', '--max-rounds', '4', '--lr-schedule', 'step:4'], /^--lr-schedule step:4 never changes the rate: the sweep's longest trials have 4 rounds \(--max-rounds\); give EVERY below it$/, ['--param', 'train.epochs=1,2', '--max-rounds', '4', '--lr-schedule', 'step:3']],
    [['--param', 'train.epochs=1,2', '--max-rounds', '4', '--adv-eps', '0.1', '--adv-warmup', '5'], /^--adv-warmup 5 ends after the sweep's longest trials \(4 rounds, --max-rounds\): they would never train at ε; give at most 4$/, ['--param', 'train.epochs=1,2', '--max-rounds', '4', '--adv-eps', '0.1', '--adv-warmup', '4']],
  ];
  it.each(ROWS)('%j is refused; the valid combination is accepted', async (refused, message, accepted) => {
    await expect(settingsOf(refused)).rejects.toMatchObject({ code: 'config', message: expect.stringMatching(message) });
    await expect(settingsOf(accepted)).resolves.toBeTruthy();
  });

  it('a step schedule longer than an early rung still runs there (the rate changes in the later rungs), and reaches every trial', async () => {
    const s = await sweep(['--param', 'train.epochs=1,2,3,4', '--min-rounds', '1', '--max-rounds', '4', '--eta', '2', '--lr-schedule', 'step:2:0.5']);
    expect(s.calls.map((c) => cfg(c).rounds)).toContain(1);
    for (const call of s.calls) expect(call.trainExtras?.learningRateSchedule).toEqual({ kind: 'step', every: 2, factor: 0.5 });
  });

  it('an ε warm-up longer than an early rung still runs there (below ε), and reaches ε in the rungs as long as it', async () => {
    const s = await sweep(['--param', 'train.epochs=1,2,3,4', '--min-rounds', '1', '--max-rounds', '4', '--eta', '2', '--adv-eps', '0.1', '--adv-warmup', '2']);
    const rounds = s.calls.map((c) => cfg(c).rounds as number);
    expect(rounds).toContain(1);
    expect(rounds).toContain(4);
    for (const call of s.calls) {
      const adversarial = { ...(call.trainExtras as { adversarial?: object } | undefined)?.adversarial, ...(cfg(call).train as { adversarial?: object } | undefined)?.adversarial };
      expect(adversarial).toMatchObject({ eps: 0.1, warmupRounds: 2 });
      // Under the rung's rounds (trainExtras) only where the rung is shorter than the warm-up.
      expect((call.trainExtras as { adversarial?: object } | undefined)?.adversarial !== undefined).toBe(cfg(call).rounds < 2);
    }
  });
});
