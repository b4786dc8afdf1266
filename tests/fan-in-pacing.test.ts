import { describe, expect, it, vi } from 'vitest';
import { FAN_IN_HARD_LIMIT, SiteConnections, SiteRegistry, type SiteMessage } from '@fedtune/coordinator';
import { FedtuneError, PROTOCOL_VERSION, type ClientToServer, type MessageOf, type SiteLink } from '@fedtune/shared';

/**
 * Fan-in pacing (site-connections.ts): updates that arrive together — as a round's do, in one poll phase —
 * are handled from a queue in arrival order, `busyMsPerTurn` at a time, with turns of the event loop in
 * between; a connection's later messages and its close wait behind its queued updates.
 */

/** A link whose messages are delivered synchronously, as socket.io delivers the frames of one read. */
function fakeLink(id: string) {
  let onMessage: (m: MessageOf<ClientToServer>) => void = () => {};
  let onInvalid: (e: FedtuneError) => void = () => {};
  const closeHandlers: Array<(reason: string) => void> = [];
  const sent: Array<{ event: string; payload: unknown }> = [];
  const link: SiteLink & { deliver: typeof onMessage; invalid: typeof onInvalid; drop(reason: string): void; sent: typeof sent } = {
    id,
    closed: false,
    send: (event, payload) => void sent.push({ event, payload }),
    sendUnchecked: (event, payload) => void sent.push({ event, payload }),
    onMessage: (h) => void (onMessage = h),
    onInvalid: (h) => void (onInvalid = h),
    onClose: (h) => void closeHandlers.push(h),
    close() {},
    deliver: (m) => onMessage(m),
    invalid: (e) => onInvalid(e),
    drop(reason) {
      (this as { closed: boolean }).closed = true;
      for (const h of closeHandlers) h(reason);
    },
    sent,
  };
  return link;
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const fitResult = (siteId: string, round: number): MessageOf<ClientToServer> => ({
  event: 'fitResult',
  payload: { runId: 'r', round, siteId, weights: new Uint8Array(4), numExamples: 1, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 },
});

function setup(busyMsPerTurn: number | undefined, onMessage: (siteId: string, m: SiteMessage) => void = () => {}, fanInQueueLimit?: number, updatesReadPerTurn?: number) {
  const log: string[] = [];
  const registry = new SiteRegistry();
  const connections = new SiteConnections({
    registry,
    runId: 'r',
    limits: { ...(busyMsPerTurn === undefined ? {} : { busyMsPerTurn }), ...(fanInQueueLimit === undefined ? {} : { fanInQueueLimit }), ...(updatesReadPerTurn === undefined ? {} : { updatesReadPerTurn }) },
    onJoined: (site) => log.push(`joined ${site.siteId}`),
    onLeft: (site, reason) => log.push(`left ${site.siteId}: ${reason}`),
    onMessage: (site, m) => {
      log.push(`${m.event} ${site.siteId}${'round' in m.payload ? ` ${m.payload.round}` : ''}`);
      onMessage(site.siteId, m);
    },
    onInvalid: (site, e) => log.push(`invalid ${site.siteId} ${e.code}`),
  });
  const join = (siteId: string) => {
    const link = fakeLink(`conn-${siteId}`);
    connections.accept(link);
    link.deliver({ event: 'hello', payload: { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'none', runtime: 'node', numExamples: 1 } } });
    return link;
  };
  return { log, join, connections };
}

/** Sites a–f joined with links that log their pause and resume calls, in order. */
function pausableSites(join: (siteId: string) => ReturnType<typeof fakeLink>) {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const calls: string[] = [];
  const links = ids.map((id) => {
    const link = join(id);
    Object.assign(link, { pauseReceiving: () => calls.push(`pause ${id}`), resumeReceiving: () => calls.push(`resume ${id}`) });
    return link;
  });
  return { ids, calls, links };
}

describe('fan-in pacing', () => {
  it('with busyMsPerTurn 0, one update per turn of the event loop, in arrival order', async () => {
    const { log, join } = setup(0);
    const links = ['a', 'b', 'c', 'd'].map(join);
    log.length = 0;
    links.forEach((link, i) => link.deliver(fitResult(['a', 'b', 'c', 'd'][i], 1)));
    // Nothing is handled while the frames are being read.
    expect(log).toEqual([]);
    const seen: number[] = [];
    for (let k = 0; k < 4; k++) {
      await turn();
      seen.push(log.length);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(log).toEqual(['fitResult a 1', 'fitResult b 1', 'fitResult c 1', 'fitResult d 1']);
  });

  it.each<[string, number | undefined]>([
    ['the default (5 ms)', undefined],
    ['1000 ms', 1000],
  ])('with busyMsPerTurn %s, quick updates are all handled in one turn', async (_, busy) => {
    const { log, join } = setup(busy);
    const links = ['a', 'b', 'c'].map(join);
    log.length = 0;
    links.forEach((link, i) => link.deliver(fitResult(['a', 'b', 'c'][i], 1)));
    await turn();
    expect(log).toHaveLength(3);
  });

  it('a slow update ends the turn: the next waits for the next turn even with time left before it', async () => {
    const busyWait = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    const { log, join } = setup(5, (siteId) => siteId === 'a' && busyWait(8));
    const [a, b] = ['a', 'b'].map(join);
    log.length = 0;
    a.deliver(fitResult('a', 1));
    b.deliver(fitResult('b', 1));
    await turn();
    expect(log).toEqual(['fitResult a 1']);
    await turn();
    expect(log).toEqual(['fitResult a 1', 'fitResult b 1']);
  });

  // The time slice read on a stand-in for performance.now(): each handled update moves it on by `costMs`.
  it.each<[string, number, string[][]]>([
    ['an update that takes less than busyMsPerTurn leaves room for the next', 4, [['a', 'b'], ['c']]],
    ['an update that takes exactly busyMsPerTurn ends the turn', 5, [['a'], ['b'], ['c']]],
  ])('%s', async (_, costMs, handledPerTurn) => {
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => clock);
    try {
      const { log, join } = setup(5, () => void (clock += costMs));
      const links = ['a', 'b', 'c'].map(join);
      log.length = 0;
      links.forEach((link, i) => link.deliver(fitResult(['a', 'b', 'c'][i], 1)));
      const seen: string[][] = [];
      for (let k = 0; k < handledPerTurn.length; k++) {
        await turn();
        seen.push(log.splice(0).map((line) => line.split(' ')[1]));
      }
      expect(seen).toEqual(handledPerTurn);
    } finally {
      now.mockRestore();
    }
  });

  it("a connection's later messages, invalid messages and close wait behind its queued update", async () => {
    const { log, join } = setup(0);
    const [a, b] = ['a', 'b'].map(join);
    log.length = 0;
    a.deliver(fitResult('a', 1));
    a.deliver({ event: 'heartbeat', payload: { siteId: 'a', status: 'idle' } });
    a.invalid(new FedtuneError('malformed_payload', 'bad'));
    a.drop('transport close');
    // Another connection's heartbeat, with nothing queued, is handled at once.
    b.deliver({ event: 'heartbeat', payload: { siteId: 'b', status: 'idle' } });
    expect(log).toEqual(['heartbeat b']);
    for (let k = 0; k < 4; k++) await turn();
    expect(log).toEqual(['heartbeat b', 'fitResult a 1', 'heartbeat a', 'invalid a malformed_payload', 'left a: transport close']);
  });

  it('a handler that throws on an update is refused (internal) and the queue goes on', async () => {
    const { log, join } = setup(0, (siteId) => {
      if (siteId === 'a') throw new Error('boom');
    });
    const [a, b] = ['a', 'b'].map(join);
    log.length = 0;
    a.deliver(fitResult('a', 1));
    b.deliver(fitResult('b', 1));
    for (let k = 0; k < 3; k++) await turn();
    expect(log).toEqual(['fitResult a 1', 'fitResult b 1']);
    expect(a.sent.filter((m) => m.event === 'rejected').map((m) => m.payload)).toEqual([
      { runId: 'r', round: undefined, code: 'internal', reason: 'the coordinator could not handle this message' },
    ]);
  });

  it('a handler that throws on an update of a connection that has closed since sends that connection nothing', async () => {
    const { log, join } = setup(0, (siteId) => {
      if (siteId === 'a') throw new Error('boom');
    });
    const a = join('a');
    log.length = 0;
    a.deliver(fitResult('a', 1));
    a.drop('transport close');
    for (let k = 0; k < 3; k++) await turn();
    expect(log).toEqual(['fitResult a 1', 'left a: transport close']);
    expect(a.sent.filter((m) => m.event === 'rejected')).toEqual([]);
  });

  it("once a connection's queued updates are handled, its next messages and its close are handled at once again", async () => {
    const { log, join } = setup(0);
    const a = join('a');
    log.length = 0;
    a.deliver(fitResult('a', 1));
    for (let k = 0; k < 2; k++) await turn();
    expect(log).toEqual(['fitResult a 1']);
    a.deliver({ event: 'heartbeat', payload: { siteId: 'a', status: 'idle' } });
    a.invalid(new FedtuneError('malformed_payload', 'bad'));
    a.drop('transport close');
    expect(log).toEqual(['fitResult a 1', 'heartbeat a', 'invalid a malformed_payload', 'left a: transport close']);
  });

  it.each<[string, number | undefined, number]>([
    ['fanInQueueLimit 1 (hard bound 4)', 1, 2],
    ['fanInQueueLimit 2 (hard bound 8)', 2, 0],
    ['the default (32)', undefined, 0],
  ])('%s: links that cannot pause keep delivering; beyond 4× the limit the oldest queued updates are handled at once, in order', async (_, limit, handledAtOnce) => {
    expect(FAN_IN_HARD_LIMIT).toBe(4);
    const { log, join } = setup(0, () => {}, limit);
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const links = ids.map(join);
    log.length = 0;
    links.forEach((link, i) => link.deliver(fitResult(ids[i], 1)));
    expect(log).toEqual(ids.slice(0, handledAtOnce).map((id) => `fitResult ${id} 1`));
    for (let k = 0; k < 7; k++) await turn();
    expect(log).toEqual(ids.map((id) => `fitResult ${id} 1`));
  });

  it('a full queue pauses every joined site’s connection; once it has drained to half they resume, resumeBatch per turn', async () => {
    const { log, join, connections } = setup(0, () => {}, 4);
    expect(connections.resumeBatch).toBe(1);
    const { ids, calls, links } = pausableSites(join);
    log.length = 0;
    // Three updates: not full yet.
    for (const i of [0, 1, 2]) links[i].deliver(fitResult(ids[i], 1));
    expect(calls).toEqual([]);
    expect(connections.sitesPaused).toBe(false);
    // The fourth fills the queue: every joined site is paused, once.
    links[3].deliver(fitResult(ids[3], 1));
    expect(connections.sitesPaused).toBe(true);
    expect(calls).toEqual(ids.map((id) => `pause ${id}`));
    // What was already read still queues (no second pause), nothing is handled at once.
    links[4].deliver(fitResult(ids[4], 1));
    expect(calls).toHaveLength(6);
    expect(log).toEqual([]);
    // One update per turn (busyMsPerTurn 0): 5 → 4 → 3 → 2 queued; at 2 (half of 4) the first site resumes, then one
    // more per turn (resumeBatch 1 at a limit of 4), queue empty or not, until every site is.
    for (let k = 0; k < 2; k++) await turn();
    expect(calls).toHaveLength(6);
    const resumedAfter: number[] = [];
    for (let k = 0; k < 8; k++) {
      await turn();
      resumedAfter.push(calls.length - 6);
    }
    expect(calls.slice(6)).toEqual(ids.map((id) => `resume ${id}`));
    expect(resumedAfter).toEqual([1, 2, 3, 4, 5, 6, 6, 6]);
    expect(connections.sitesPaused).toBe(false);
    expect(log).toEqual(ids.slice(0, 5).map((id) => `fitResult ${id} 1`));
    expect(connections.fanInPauses).toBe(1);
    // A site that leaves while paused is not resumed.
    for (const i of [0, 1, 2, 3]) links[i].deliver(fitResult(ids[i], 2));
    expect(connections.fanInPauses).toBe(2);
    links[5].drop('gone');
    calls.length = 0;
    for (let k = 0; k < 12; k++) await turn();
    expect(calls).toEqual(ids.slice(0, 5).map((id) => `resume ${id}`));
  });

  it('the default limit (32) resumes 8 connections per turn: 500 paused sites are never all read in one turn', async () => {
    const { join, connections } = setup(0);
    expect(connections.resumeBatch).toBe(8);
    const resumedInTurn: number[] = [];
    let resumedNow = 0;
    const links = Array.from({ length: 500 }, (_, i) => {
      const link = join(`s${i}`);
      Object.assign(link, { pauseReceiving: () => {}, resumeReceiving: () => resumedNow++ });
      return link;
    });
    for (let i = 0; i < 32; i++) links[i].deliver(fitResult(`s${i}`, 1));
    expect(connections.sitesPaused).toBe(true);
    for (let k = 0; k < 120 && (connections.sitesPaused || resumedNow > 0); k++) {
      await turn();
      resumedInTurn.push(resumedNow);
      resumedNow = 0;
    }
    expect(resumedInTurn.reduce((a, b) => a + b, 0)).toBe(500);
    expect(Math.max(...resumedInTurn)).toBe(8);
    expect(connections.mostResumedInATurn).toBe(8);
    expect(connections.sitesPaused).toBe(false);
  });

  it('a queue that fills again while sites are being resumed pauses the resumed ones again, behind those still waiting', async () => {
    const { join, connections } = setup(0, () => {}, 4);
    const { ids, calls, links } = pausableSites(join);
    for (const i of [0, 1, 2, 3]) links[i].deliver(fitResult(ids[i], 1));
    expect(connections.fanInPauses).toBe(1);
    // 4 → 3 → 2 queued: a resumes.
    for (let k = 0; k < 2; k++) await turn();
    expect(calls.slice(6)).toEqual(['resume a']);
    // Two updates arrive (read before a pause took hold): the queue is full again; every site is paused, and the
    // order of the next resumes puts those never resumed (b–f) before a.
    links[4].deliver(fitResult(ids[4], 1));
    links[5].deliver(fitResult(ids[5], 1));
    expect(connections.fanInPauses).toBe(2);
    calls.length = 0;
    for (let k = 0; k < 14; k++) await turn();
    expect(calls).toEqual(['resume b', 'resume c', 'resume d', 'resume e', 'resume f', 'resume a']);
    expect(connections.sitesPaused).toBe(false);
  });

  it('a site that leaves while waiting to be resumed is not paused again by the next pause, nor takes a turn of the resumes', async () => {
    const { join, connections } = setup(0, () => {}, 4);
    const { ids, calls, links } = pausableSites(join);
    for (const i of [0, 1, 2, 3]) links[i].deliver(fitResult(ids[i], 1));
    // 4 → 3 → 2 queued: a resumes; b (its update handled) leaves while it waits for its turn.
    for (let k = 0; k < 2; k++) await turn();
    expect(calls.slice(6)).toEqual(['resume a']);
    links[1].drop('gone');
    // The queue fills again: the sites still joined are paused, those that were waiting first.
    calls.length = 0;
    links[4].deliver(fitResult(ids[4], 1));
    links[5].deliver(fitResult(ids[5], 1));
    expect(connections.fanInPauses).toBe(2);
    expect(calls).toEqual(['pause c', 'pause d', 'pause e', 'pause f', 'pause a']);
    // 4 → 3 → 2 queued: then one resume a turn (resumeBatch 1), none of them lost on b.
    calls.length = 0;
    const resumedAfter: number[] = [];
    for (let k = 0; k < 7; k++) {
      await turn();
      resumedAfter.push(calls.length);
    }
    expect(calls).toEqual(['resume c', 'resume d', 'resume e', 'resume f', 'resume a']);
    expect(resumedAfter).toEqual([0, 1, 2, 3, 4, 5, 5]);
    expect(connections.sitesPaused).toBe(false);
  });

  it('a pause after every site was resumed paces its resumes as the first pause did (it starts from an empty list)', async () => {
    const { join, connections } = setup(0, () => {}, 4);
    const { ids, calls, links } = pausableSites(join);
    /** Fills the queue (4 updates, round `round`) and returns the resumes seen after each of the next 8 turns. */
    const pauseAndResume = async (round: number) => {
      for (const i of [0, 1, 2, 3]) links[i].deliver(fitResult(ids[i], round));
      expect(connections.sitesPaused).toBe(true);
      calls.length = 0;
      const resumedAfter: number[] = [];
      for (let k = 0; k < 8; k++) {
        await turn();
        resumedAfter.push(calls.length);
      }
      expect(calls).toEqual(ids.map((id) => `resume ${id}`));
      expect(connections.sitesPaused).toBe(false);
      return resumedAfter;
    };
    expect(await pauseAndResume(1)).toEqual([0, 1, 2, 3, 4, 5, 6, 6]);
    expect(await pauseAndResume(2)).toEqual([0, 1, 2, 3, 4, 5, 6, 6]);
    expect(connections.fanInPauses).toBe(2);
  });

  it('once the queue is empty and every site resumed, the drain stops rescheduling itself (no busy loop of turns)', async () => {
    const { join, connections } = setup(0, () => {}, 4);
    const links = ['a', 'b', 'c', 'd', 'e'].map((id) => join(id));
    links.forEach((link, i) => link.deliver(fitResult(['a', 'b', 'c', 'd', 'e'][i], 1)));
    expect(connections.sitesPaused).toBe(true);
    for (let k = 0; k < 20; k++) await turn();
    expect(connections.sitesPaused).toBe(false);
    // Internal state, read for this test only: the drain loop has ended, and stays ended over later turns.
    const draining = () => (connections as unknown as { draining: boolean }).draining;
    for (let k = 0; k < 3; k++) {
      await turn();
      expect(draining()).toBe(false);
    }
  });

  // updatesReadPerTurn: the updates read in one turn (before the queue) are bounded too, whatever the queue holds.
  it.each([
    { updatesReadPerTurn: 2, queueLimit: 1000, resumeBatch: 2 },
    { updatesReadPerTurn: 5, queueLimit: 1000, resumeBatch: 5 },
    { updatesReadPerTurn: undefined, queueLimit: 1000, resumeBatch: 8 },
    { updatesReadPerTurn: 100, queueLimit: 12, resumeBatch: 3 },
  ])('updatesReadPerTurn $updatesReadPerTurn (queue limit $queueLimit): the Nth update read in a turn pauses every joined site; resumed $resumeBatch per turn', async ({ updatesReadPerTurn, queueLimit, resumeBatch }) => {
    const perTurn = updatesReadPerTurn ?? 8;
    const { log, join, connections } = setup(1000, () => {}, queueLimit, updatesReadPerTurn);
    expect(connections.limits.updatesReadPerTurn).toBe(perTurn);
    expect(connections.resumeBatch).toBe(resumeBatch);
    const paused = new Set<string>();
    const resumedInTurn: number[] = [];
    let resumedNow = 0;
    const links = Array.from({ length: 20 }, (_, i) => {
      const link = join(`s${i}`);
      Object.assign(link, { pauseReceiving: () => paused.add(`s${i}`), resumeReceiving: () => (paused.delete(`s${i}`), resumedNow++) });
      return link;
    });
    log.length = 0;
    // One turn: updates are read one after the other; the read that reaches the bound pauses all 20 connections
    // (if the queue did not fill first), and what was read before the pause took hold still queues.
    const pausedAfter: number[] = [];
    for (let i = 0; i < 20; i++) {
      links[i].deliver(fitResult(`s${i}`, 1));
      pausedAfter.push(paused.size);
    }
    const firstPause = Math.min(perTurn, queueLimit);
    expect(pausedAfter.findIndex((n) => n > 0)).toBe(firstPause - 1);
    expect(pausedAfter.slice(firstPause - 1).every((n) => n === 20)).toBe(true);
    expect(connections.fanInPauses).toBe(1);
    expect(connections.mostUpdatesReadInATurn).toBe(20);
    // Later turns: every connection is resumed, at most resumeBatch per turn, and every update is handled in order.
    for (let k = 0; k < 40 && (connections.sitesPaused || resumedNow > 0); k++) {
      await turn();
      resumedInTurn.push(resumedNow);
      resumedNow = 0;
    }
    expect(paused.size).toBe(0);
    expect(Math.max(...resumedInTurn)).toBe(resumeBatch);
    expect(log).toEqual(links.map((_, i) => `fitResult s${i} 1`));
  });

  it('updatesReadPerTurn counts one turn at a time: N − 1 updates in each of several turns never pause', async () => {
    const { join, connections } = setup(1000, () => {}, 1000, 4);
    const calls: string[] = [];
    const links = Array.from({ length: 9 }, (_, i) => {
      const link = join(`s${i}`);
      Object.assign(link, { pauseReceiving: () => calls.push(`pause s${i}`), resumeReceiving: () => calls.push(`resume s${i}`) });
      return link;
    });
    for (const turnOf of [[0, 1, 2], [3, 4, 5], [6, 7, 8]]) {
      for (const i of turnOf) links[i].deliver(fitResult(`s${i}`, 1));
      await turn();
    }
    expect(calls).toEqual([]);
    expect(connections.fanInPauses).toBe(0);
    expect(connections.mostUpdatesReadInATurn).toBe(3);
    // A fourth in one turn pauses them.
    for (const i of [0, 1, 2, 3]) links[i].deliver(fitResult(`s${i}`, 2));
    expect(connections.fanInPauses).toBe(1);
    expect(calls.filter((c) => c.startsWith('pause'))).toHaveLength(9);
  });

  it('updatesReadPerTurn 2: one update in each of five turns never pauses (the first read of a turn starts its count)', async () => {
    const { join, connections } = setup(1000, () => {}, 1000, 2);
    const links = Array.from({ length: 5 }, (_, i) => join(`s${i}`));
    for (let i = 0; i < 5; i++) {
      links[i].deliver(fitResult(`s${i}`, 1));
      await turn();
    }
    expect(connections.fanInPauses).toBe(0);
    expect(connections.mostUpdatesReadInATurn).toBe(1);
  });

  it('messages other than updates do not count toward updatesReadPerTurn', () => {
    const { join, connections } = setup(1000, () => {}, 1000, 2);
    const links = Array.from({ length: 5 }, (_, i) => join(`s${i}`));
    for (let i = 0; i < 5; i++) links[i].deliver({ event: 'heartbeat', payload: { siteId: `s${i}`, status: 'idle' } });
    expect(connections.fanInPauses).toBe(0);
    expect(connections.mostUpdatesReadInATurn).toBe(0);
  });

  it('busyMsPerTurn and fanInQueueLimit are bounded by their schema', () => {
    expect(() => setup(5, undefined, undefined, 0)).toThrow();
    expect(() => setup(5, undefined, 0)).toThrow();
    expect(() => setup(-1)).toThrow();
    expect(() => setup(5000)).toThrow();
  });
});
