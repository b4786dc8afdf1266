import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

describe('fedtune coordinator on a port in use', () => {
  let occupied: Server;
  let port: number;
  beforeAll(async () => {
    occupied = createServer();
    await new Promise<void>((resolve) => occupied.listen({ host: '127.0.0.1', port: 0 }, resolve));
    port = (occupied.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => occupied.close(() => resolve())));

  it.each([
    ['a run', [] as string[]],
    ['--serve-only', ['--serve-only']],
  ])('%s: one line naming the port, exit 1, and no runs directory, fedtune.db or log file left behind', async (_, extra) => {
    const dir = tempDir('fedtune-port-in-use-');
    const out = join(dir, 'runs');
    const exit = await fedtune(['coordinator', '--port', String(port), '--out', out, '--sites-db', join(dir, 'sites.db'), '--log-file', join(dir, 'log.jsonl'), ...extra]).done;
    expect(exit.code, exit.stderr).toBe(1);
    expect(exit.stderr.trim().split('\n')).toEqual([`fedtune: port ${port} on 127.0.0.1 is already in use: stop what is listening there or pick another port with --port`]);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(join(dir, 'sites.db'))).toBe(false);
    expect(existsSync(join(dir, 'log.jsonl'))).toBe(false);
    expect(exit.stdout).not.toMatch(/site tokens|listening/);
  }, 60_000);
});
