import { describe, expect, it } from 'vitest';
import { failoverConnector, FedtuneError, MemoryNetwork, type ClientConnector } from '@fedtune/shared';

/** A connector that records its attempts and fails while `down`. */
function node(name: string, log: string[], state: { down: boolean }) {
  const network = new MemoryNetwork();
  const links: Array<{ close(): void }> = [];
  network.serverTransport().onConnection((link) => links.push(link));
  const connector: ClientConnector = {
    connect: async () => {
      log.push(name);
      if (state.down) throw new FedtuneError('transport', `cannot connect to ${name}`);
      return network.connector().connect();
    },
  };
  return { connector, links, state };
}

describe('failoverConnector (a site with the URLs of a cluster)', () => {
  it('keeps to the first node that answers, skips nodes that are down, and after its connection closes tries the next node first', async () => {
    const log: string[] = [];
    const a = node('a', log, { down: true });
    const b = node('b', log, { down: false });
    const c = node('c', log, { down: false });
    const connector = failoverConnector([a.connector, b.connector, c.connector]);
    const first = await connector.connect();
    expect(log).toEqual(['a', 'b']);
    const again = await connector.connect();
    expect(log).toEqual(['a', 'b', 'b']);
    again.close();
    first.close();
    await connector.connect();
    expect(log).toEqual(['a', 'b', 'b', 'c']);
  });

  it('after the last node it wraps around to the first', async () => {
    const log: string[] = [];
    const a = node('a', log, { down: false });
    const b = node('b', log, { down: false });
    const connector = failoverConnector([a.connector, b.connector]);
    (await connector.connect()).close();
    (await connector.connect()).close();
    await connector.connect();
    expect(log).toEqual(['a', 'b', 'a']);
  });

  it('throws the last failure (typed) when no node answers, and refuses an empty list', async () => {
    const log: string[] = [];
    const connector = failoverConnector([node('a', log, { down: true }).connector, node('b', log, { down: true }).connector]);
    await expect(connector.connect()).rejects.toThrow(/cannot connect to b/);
    expect(log).toEqual(['a', 'b']);
    expect(() => failoverConnector([])).toThrow(expect.objectContaining({ code: 'config', message: 'failover needs at least one coordinator to connect to' }));
  });
});

describe('failoverConnector startAt and alternatives (site placement over a cluster)', () => {
  it.each([
    [0, ['a']],
    [1, ['b']],
    [2, ['c']],
    [4, ['b']],
  ])('startAt %i: the first connect tries that node (modulo the list)', async (startAt, expected) => {
    const log: string[] = [];
    const connector = failoverConnector(['a', 'b', 'c'].map((n) => node(n, log, { down: false }).connector), { startAt });
    await connector.connect();
    expect(log).toEqual(expected);
  });

  it('from startAt it moves on past a node that is down and, after a close, to the next one', async () => {
    const log: string[] = [];
    const connector = failoverConnector([node('a', log, { down: false }).connector, node('b', log, { down: true }).connector, node('c', log, { down: false }).connector], { startAt: 1 });
    (await connector.connect()).close();
    expect(log).toEqual(['b', 'c']);
    await connector.connect();
    expect(log).toEqual(['b', 'c', 'a']);
  });

  it('an old connection closing later does not move the site away from the node it has since moved to', async () => {
    const log: string[] = [];
    const connector = failoverConnector(['a', 'b', 'c'].map((n) => node(n, log, { down: false }).connector));
    const first = await connector.connect();
    const second = await connector.connect();
    first.close();
    const onB = await connector.connect();
    onB.close();
    await connector.connect();
    expect(log).toEqual(['a', 'a', 'b', 'c']);
    // `second` (on a) closes now: the site stays with c.
    second.close();
    await connector.connect();
    expect(log).toEqual(['a', 'a', 'b', 'c', 'c']);
  });

  it('a failure that is not a FedtuneError is reported as a transport error', async () => {
    const connector = failoverConnector([{ connect: async () => { throw new Error('socket hang up'); } }]);
    await expect(connector.connect()).rejects.toMatchObject({ code: 'transport', message: 'socket hang up' });
  });

  it('tells how many other nodes it can try (the hello\'s alternatives), and refuses a bad startAt', () => {
    const log: string[] = [];
    expect(failoverConnector([node('a', log, { down: false }).connector]).alternatives).toBe(0);
    expect(failoverConnector(['a', 'b', 'c'].map((n) => node(n, log, { down: false }).connector)).alternatives).toBe(2);
    for (const startAt of [-1, 1.5, Number.NaN]) expect(() => failoverConnector([node('a', log, { down: false }).connector], { startAt })).toThrow(expect.objectContaining({ code: 'config', message: `failover startAt must be a whole number ≥ 0, got ${startAt}` }));
  });
});
