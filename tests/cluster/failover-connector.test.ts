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
    expect(() => failoverConnector([])).toThrow(expect.objectContaining({ code: 'config' }));
  });
});
