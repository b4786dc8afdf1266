import { describe, expect, it } from 'vitest';
import { EarlyConnector } from '@fedtune/client-node';
import type { ClientConnector, CoordinatorLink } from '@fedtune/shared';

/** A link that only records whether it was closed. */
function fakeLink(name: string): CoordinatorLink & { name: string; closes: number } {
  const link = {
    name,
    closes: 0,
    closed: false,
    close() {
      link.closes++;
      link.closed = true;
    },
    send() {},
    sendUnchecked() {},
    onMessage() {},
    onInvalid() {},
    onClose() {},
  };
  return link;
}

/** A connector whose attempts are answered in order: a link, or an error. */
function scripted(answers: Array<CoordinatorLink | Error>): ClientConnector & { attempts: number } {
  const connector = {
    attempts: 0,
    connect: async () => {
      const answer = answers[connector.attempts++];
      if (answer === undefined) throw new Error('no more answers scripted');
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  return connector;
}

describe('EarlyConnector: the first connection opens when it is made, before the site asks', () => {
  it('opens one attempt at construction, before any connect()', () => {
    const inner = scripted([fakeLink('early')]);
    const early = new EarlyConnector(inner);
    expect(inner.attempts).toBe(1);
    expect(early.pending).toBe(true);
  });

  const cases: Array<{ name: string; answers: () => Array<CoordinatorLink | Error>; closeEarly?: boolean; handed: string; attempts: number }> = [
    { name: 'an open early link is handed over as is', answers: () => [fakeLink('early'), fakeLink('fresh')], handed: 'early', attempts: 1 },
    { name: 'a failed early attempt is replaced by a fresh one', answers: () => [new Error('refused'), fakeLink('fresh')], handed: 'fresh', attempts: 2 },
    { name: 'an early link that closed meanwhile is replaced by a fresh one', answers: () => [fakeLink('early'), fakeLink('fresh')], closeEarly: true, handed: 'fresh', attempts: 2 },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const answers = c.answers();
      const inner = scripted(answers);
      const early = new EarlyConnector(inner);
      if (c.closeEarly) (answers[0] as ReturnType<typeof fakeLink>).close();
      const link = (await early.connect()) as ReturnType<typeof fakeLink>;
      expect(link.name).toBe(c.handed);
      expect(inner.attempts).toBe(c.attempts);
      expect(early.pending).toBe(false);
    });
  }

  it('reports the fresh attempt\'s own error when both fail', async () => {
    const early = new EarlyConnector(scripted([new Error('early refused'), new Error('fresh refused')]));
    await expect(early.connect()).rejects.toThrow('fresh refused');
  });

  it('sends every later connect (a reconnect) to the inner connector', async () => {
    const inner = scripted([fakeLink('early'), fakeLink('second'), fakeLink('third')]);
    const early = new EarlyConnector(inner);
    expect(((await early.connect()) as ReturnType<typeof fakeLink>).name).toBe('early');
    expect(((await early.connect()) as ReturnType<typeof fakeLink>).name).toBe('second');
    expect(((await early.connect()) as ReturnType<typeof fakeLink>).name).toBe('third');
    expect(inner.attempts).toBe(3);
  });

  it('discard() closes a link never handed over, once, and the next connect() attempts afresh', async () => {
    const first = fakeLink('early');
    const inner = scripted([first, fakeLink('fresh')]);
    const early = new EarlyConnector(inner);
    early.discard();
    expect(early.pending).toBe(false);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(first.closes).toBe(1);
    early.discard();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(first.closes).toBe(1);
    expect(((await early.connect()) as ReturnType<typeof fakeLink>).name).toBe('fresh');
  });

  it('discard() while the early attempt is still in flight closes the link when it arrives', async () => {
    const link = fakeLink('late');
    let arrive!: (l: CoordinatorLink) => void;
    const early = new EarlyConnector({ connect: () => new Promise<CoordinatorLink>((resolve) => (arrive = resolve)) });
    early.discard();
    expect(link.closes).toBe(0);
    arrive(link);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(link.closes).toBe(1);
  });

  it('discard() after the hand-over leaves the site\'s link open', async () => {
    const link = fakeLink('early');
    const early = new EarlyConnector(scripted([link]));
    await early.connect();
    early.discard();
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(link.closes).toBe(0);
    expect(link.closed).toBe(false);
  });

  it('a failed early attempt is never an unhandled rejection, even when nobody connects', async () => {
    const early = new EarlyConnector(scripted([new Error('refused')]));
    await new Promise<void>((resolve) => setImmediate(resolve));
    early.discard();
    expect(early.pending).toBe(false);
  });
});

describe('EarlyConnector: what the site offers in its hello', () => {
  it('tells the inner connector\'s alternatives (a cluster\'s other nodes), none when the inner has none', () => {
    expect(new EarlyConnector(Object.assign(scripted([fakeLink('a')]), { alternatives: 2 })).alternatives).toBe(2);
    expect(new EarlyConnector(scripted([fakeLink('a')])).alternatives).toBeUndefined();
  });
});
