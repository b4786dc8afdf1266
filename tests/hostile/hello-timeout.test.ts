import { expect, it } from 'vitest';
import { ConnectionLimits, createCoordinatorServer } from '@fedtune/coordinator';
import { selectNodeBackend } from '@fedtune/shared/node';
import { startTinyCoordinator, tempDir, tinyData } from '../access/helpers.ts';
import { attacker, rawWebsocketUpgrade, until } from './helpers.ts';

// Finding 10 of issue 11: a connection that never says hello was held as long as it liked.
it('closes connections that send no valid hello in time (200 of them), and keeps one that joined', async () => {
  const coordinator = await startTinyCoordinator({ runId: 'hello-timeout', minSites: 2, connectionLimits: { helloTimeoutMs: 800 } });
  try {
    const idle = await Promise.all(Array.from({ length: 200 }, () => attacker(coordinator.url!)));
    // A malformed hello does not count as one.
    const malformed = await attacker(coordinator.url!);
    malformed.socket.emit('hello', { siteId: 'site-x' });
    const joined = await attacker(coordinator.url!);
    joined.hello('site-a');
    await joined.next('welcome');

    await until(() => coordinator.app!.io.engine.clientsCount === 1, 'only the joined connection left', 10_000);
    await Promise.all([...idle, malformed].map((a) => a.closed));
    for (const a of idle) expect(a.received).toEqual([{ event: 'rejected', payload: { code: 'timeout', reason: 'no hello within 800 ms of connecting' } }]);
    expect(joined.socket.connected).toBe(true);
    expect(coordinator.engine.sites.ids()).toEqual(['site-a']);
    joined.socket.close();
  } finally {
    await coordinator.close();
  }
});

it('closes idle connections on a coordinator with no run yet (they are not held waiting for one)', async () => {
  const server = createCoordinatorServer({
    runsDir: tempDir('fedtune-hostile-'),
    holdout: tinyData(20, 1),
    architecture: 'tiny',
    backend: (await selectNodeBackend()).backend,
    transport: 'socket',
    maxMessageBytes: 16 * 1024 * 1024,
    connectionLimits: { helloTimeoutMs: 500 },
  });
  try {
    const url = await server.listen();
    const idle = await Promise.all(Array.from({ length: 20 }, () => attacker(url!)));
    await Promise.all(idle.map((a) => a.closed));
    expect(server.transport.waitingCount).toBe(0);
  } finally {
    await server.close();
  }
});

it('the hello deadline defaults to a few seconds, in one place', () => {
  const defaults = ConnectionLimits.parse({});
  expect(defaults.helloTimeoutMs).toBeGreaterThanOrEqual(2_000);
  expect(defaults.helloTimeoutMs).toBeLessThanOrEqual(15_000);
});

// A peer that never answers the websocket's close frame held its connection (and a file descriptor) for 30 s more
// (ws's closing timeout); the coordinator now destroys the TCP socket of a connection it closed after a second.
it('a silent peer that ignores the close frame loses its TCP connection a second after the hello timeout, not 30 s', async () => {
  const coordinator = await startTinyCoordinator({ runId: 'close-grace', minSites: 2, connectionLimits: { helloTimeoutMs: 300 } });
  const s = await rawWebsocketUpgrade(Number(new URL(coordinator.url!).port));
  try {
    s.on('data', () => {}); // read (and ignore) what comes, the close frame included
    const started = Date.now();
    // socket.io's namespace connect ("40", a masked text frame with the zero key): the connection is now the coordinator's.
    s.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x34, 0x30]));
    await new Promise<void>((r) => s.once('close', () => r()));
    const ms = Date.now() - started;
    expect(ms).toBeGreaterThanOrEqual(300);
    expect(ms).toBeLessThan(10_000);
  } finally {
    s.destroy();
    await coordinator.close();
  }
}, 60_000);
