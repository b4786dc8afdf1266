import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server, type Socket } from 'socket.io';
import type { runNodeSite } from '@fedtune/client-node';
import type { CoordinatorLink } from '@fedtune/shared';
import { selectNodeBackend } from '@fedtune/shared/node';
import { clientCommand } from '../../cli/src/commands/client-command.ts';
import { tempDir } from '../helpers/federation.ts';

/**
 * `fedtune client` opens its connection before its tfjs backend is ready and before it reads its data
 * (docs/performance.md, fast start): observed as an order of events against a real socket.io server, not as
 * a time. The backend here is held until the server has seen the site's connection: without the early
 * connection it would never be released (the guard then fails the test with that reason).
 */
const GUARD_MS = 20_000;

let io: Server;
let url: string;
const connections: Socket[] = [];
const waiters: Array<() => void> = [];
const dir = tempDir();

beforeAll(async () => {
  const http = createServer();
  io = new Server(http, { transports: ['websocket'] });
  io.on('connection', (socket) => {
    connections.push(socket);
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => io.close(() => resolve()));
});

/** Resolves once the server has seen `count` connections in all; fails after the guard. */
function connectionNumber(count: number, what: string): Promise<void> {
  if (connections.length >= count) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`${what}: the server never saw connection ${count}`)), GUARD_MS);
    waiters.push(() => {
      if (connections.length < count) return;
      clearTimeout(guard);
      resolve();
    });
  });
}

type SiteOptions = Parameters<typeof runNodeSite>[0];

interface Joined {
  site: SiteOptions;
  /** The link the site's first connect() gave it, and how many connections the server had seen then. */
  link: CoordinatorLink;
  connectionsThen: number;
}

/**
 * Runs `fedtune client ARGV` with a backend held until `releaseBackend` and a runNodeSite that records what it
 * got and connects as the site would (its connector's first connect()).
 */
async function runClient(argv: string[], releaseBackend: () => Promise<void>, events: string[]): Promise<Joined | undefined> {
  let joined: Joined | undefined;
  const command = clientCommand({
    selectNodeBackend: async (preferred) => {
      events.push('backend started');
      await releaseBackend();
      events.push('backend ready');
      return selectNodeBackend(preferred);
    },
    runNodeSite: (async (o: SiteOptions) => {
      events.push('site joins');
      const link = await o.connector!.connect();
      joined = { site: o, link, connectionsThen: connections.length };
      return { completed: true, runId: 'recorded', roundsTrained: 0, complete: { rounds: 1 } };
    }) as unknown as typeof runNodeSite,
  });
  command.exitOverride();
  const log = console.log;
  console.log = (line: string) => {
    if (/^data check:/.test(line)) events.push('data checked');
  };
  try {
    await command.parseAsync([...(argv.includes('--check-only') ? [] : ['--server', url]), '--site', 'early-1', '--backend', 'cpu', '--privacy-ledger', join(dir, 'ledger.jsonl'), ...argv], { from: 'user' });
  } finally {
    console.log = log;
  }
  return joined;
}

function csv(name: string, rows: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, ['f0,f1,label', ...rows].join('\n') + '\n');
  return path;
}

describe('fedtune client connects while its backend starts and its data loads', () => {
  it('the server sees the connection before the backend is ready; the site joins over that same connection', async () => {
    const before = connections.length;
    const events: string[] = [];
    const data = csv('site.csv', ['0.1,0.2,0', '0.3,0.4,1', '0.5,0.1,0', '0.9,0.7,1']);
    const joined = await runClient(['--data', data], async () => {
      await connectionNumber(before + 1, 'backend held');
      events.push('server saw the connection');
    }, events);
    expect(events).toEqual(['backend started', 'data checked', 'server saw the connection', 'backend ready', 'site joins']);
    // The site connects through the early connection: its first connect() is that link, no second connection.
    expect(joined!.link.closed).toBe(false);
    expect(joined!.connectionsThen).toBe(before + 1);
    expect(connections[before].connected).toBe(true);
    // `server` still names the coordinator (the model server, --server's effect).
    expect(joined!.site.server).toBe(url);
    joined!.link.close();
  });

  it('--check-only neither connects nor starts the backend', async () => {
    const before = connections.length;
    const events: string[] = [];
    const data = csv('check.csv', ['0.1,0.2,0', '0.3,0.4,1']);
    expect(await runClient(['--data', data, '--check-only'], async () => {}, events)).toBeUndefined();
    expect(events).toEqual(['data checked']);
    // A site that does connect after it is the server's next connection: the check made none.
    const joined = await runClient(['--data', data], async () => connectionNumber(before + 1, 'second client'), []);
    expect(joined!.connectionsThen).toBe(before + 1);
    joined!.link.close();
  });

  it('data that cannot be read closes the early connection: nothing is left open', async () => {
    const before = connections.length;
    const data = csv('no-label.csv', ['0.1,0.2,0', '0.3,0.4,1']);
    await expect(runClient(['--data', data, '--label-column', 'diagnosis'], async () => {}, [])).rejects.toThrow(/diagnosis/);
    await connectionNumber(before + 1, 'bad data');
    const socket = connections[before];
    if (socket.connected) await new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
    expect(socket.connected).toBe(false);
  });
});
