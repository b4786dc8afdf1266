import { expect, it } from 'vitest';
import { ConnectionLimits, createCoordinatorServer } from '@fedtune/coordinator';
import { selectNodeBackend } from '@fedtune/shared/node';
import { startTinyCoordinator, tempDir, tinyData } from '../access/helpers.ts';
import { attacker, until } from './helpers.ts';

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
