import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FedtuneError } from '@fedtune/shared';
import { DESCRIPTOR_RESERVE, openFileLimit, resolveSimulationTransport } from '../../cli/src/simulation/simulation-transport.ts';
import { tempDir } from '../helpers/federation.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                40000                files
Max locked memory         8388608              8388608              bytes
`;

describe('openFileLimit: the soft limit from /proc/self/limits', () => {
  it.each([
    { text: LIMITS, want: 20000 },
    { text: LIMITS.replace('20000                40000', 'unlimited            unlimited'), want: undefined },
    { text: 'Max cpu time  unlimited  unlimited  seconds\n', want: undefined },
  ])('$want', ({ text, want }) => {
    expect(openFileLimit(() => text)).toBe(want);
  });
  it('a file that cannot be read (not Linux): unknown', () => {
    expect(
      openFileLimit(() => {
        throw new Error('ENOENT');
      }),
    ).toBeUndefined();
  });
  it('on this machine: a number', () => {
    expect(openFileLimit()).toBeGreaterThan(0);
  });
});

describe('resolveSimulationTransport', () => {
  const fits = (sites: number) => sites * 2 + DESCRIPTOR_RESERVE;
  it.each([
    { requested: 'memory', sites: 1_000_000, limit: 1024, want: 'memory', note: false },
    { requested: 'auto', sites: 8, limit: 1024, want: 'socket', note: false },
    { requested: 'auto', sites: 256, limit: fits(256), want: 'socket', note: false },
    { requested: 'auto', sites: 257, limit: fits(256), want: 'memory', note: true },
    { requested: 'auto', sites: 10000, limit: 20000, want: 'memory', note: true },
    { requested: 'auto', sites: 10000, limit: null, want: 'socket', note: false },
    { requested: 'socket', sites: 9000, limit: 20000, want: 'socket', note: false },
  ] as const)('$requested with $sites sites under a limit of $limit: $want', ({ requested, sites, limit, want, note }) => {
    const r = resolveSimulationTransport(requested, sites, limit);
    expect(r.transport).toBe(want);
    expect(r.note !== undefined).toBe(note);
  });

  it('auto says why, with the numbers', () => {
    expect(resolveSimulationTransport('auto', 10000, 20000).note).toBe(
      '10000 sites over socket.io need about 20512 open files in this process and it may open 20000 (ulimit -n): simulating over the in-memory network instead (the same coordinator and site code; --transport socket after raising the limit)',
    );
  });

  it('an explicit socket past the limit is a typed config error saying what to change', () => {
    const err = (() => {
      try {
        resolveSimulationTransport('socket', 10000, 20000);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FedtuneError);
    expect((err as FedtuneError).code).toBe('config');
    expect((err as FedtuneError).message).toBe('10000 sites over socket.io need about 20512 open files in this process and it may open 20000 (ulimit -n): raise the limit (ulimit -n 26000) or use --transport memory');
  });
});

describe('fedtune simulate under a low ulimit -n (a real process)', () => {
  const BIN = join(import.meta.dirname, '..', '..', 'node_modules', '.bin', 'fedtune');
  const run = (extra: string) => {
    const out = tempDir();
    const r = spawnSync('sh', ['-c', `ulimit -n 600 && exec "${BIN}" simulate --sites 50 --rounds 1 --max-examples 16 --federated-eval never --robustness never --out "${out}" --run-id low ${extra}`], { encoding: 'utf8', timeout: 240_000 });
    return { ...r, out };
  };

  it('the default (auto) simulates 50 sites over the in-memory network and says why; the report records it', () => {
    const r = run('');
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('50 sites over socket.io need about 612 open files in this process and it may open 600 (ulimit -n): simulating over the in-memory network instead');
    expect(r.stdout).toContain('simulating 50 sites × 1 rounds over the in-memory network');
    expect(JSON.parse(readFileSync(join(r.out, 'low', 'report.json'), 'utf8')).simulation.transport).toBe('memory');
  }, 300_000);

  it('--transport socket is refused in one line, before anything runs', () => {
    const r = run('--transport socket');
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('raise the limit (ulimit -n 1000) or use --transport memory');
  }, 300_000);
});
