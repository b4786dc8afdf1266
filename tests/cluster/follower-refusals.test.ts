import { EventEmitter } from 'node:events';
import type { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { FedtuneError, type ServerTransport, type SiteLink } from '@fedtune/shared';
import { ClusterTransport } from '../../coordinator/src/cluster/cluster-transport.ts';

/**
 * A follower node answers a site's refused messages itself (they never reach the leader) and cuts a connection
 * that sends too many: by the run's ConnectionLimits — more than maxRefusals within refusalWindowMs — as a
 * single coordinator does (site-connections.ts), not by a fixed count over the connection's whole life.
 */
function follower(limits: { maxRefusals: number; refusalWindowMs: number }) {
  const io = new EventEmitter() as EventEmitter & { serverSideEmit: (e: string, p: unknown) => void; to: () => { emit: () => void }; in: () => { disconnectSockets: () => void } };
  io.serverSideEmit = () => {};
  io.to = () => ({ emit: () => {} });
  io.in = () => ({ disconnectSockets: () => {} });
  let onLocal!: (link: SiteLink) => void;
  const inner = { onConnection: (h: (l: SiteLink) => void) => (onLocal = h), close: async () => {} } as unknown as ServerTransport;
  let now = 1_000;
  const t = new ClusterTransport(inner, io as unknown as Server, { nodeId: 'F', maxQueuedMessages: 16, ...limits, maxRemoteSites: 100, nodeHeartbeatMs: 60_000, nodeTimeoutMs: 600_000, now: () => now });
  /** A site connected to this follower: refuse `n` of its messages, `gapMs` apart; whether the follower cut it. */
  const site = () => {
    let invalid!: (e: FedtuneError) => void;
    const state = { closed: false, rejected: 0 };
    const link = { id: 's1', onMessage: () => {}, onInvalid: (h: (e: FedtuneError) => void) => (invalid = h), onClose: () => {}, send: (event: string) => void (event === 'rejected' && state.rejected++), close: () => void (state.closed = true) } as unknown as SiteLink;
    onLocal(link);
    const refuse = (n: number, gapMs = 0) => {
      for (let i = 0; i < n; i++) {
        invalid(new FedtuneError('malformed_payload', 'bad'));
        now += gapMs;
      }
    };
    return { state, refuse };
  };
  return { t, site };
}

describe('a follower cuts a site by the run\'s refusal limits', () => {
  it('more than maxRefusals within the window: cut; exactly maxRefusals: kept (every refusal answered)', async () => {
    const f = follower({ maxRefusals: 3, refusalWindowMs: 10_000 });
    const a = f.site();
    a.refuse(3);
    expect(a.state).toEqual({ closed: false, rejected: 3 });
    a.refuse(1);
    expect(a.state).toEqual({ closed: true, rejected: 4 });
    await f.t.close();
  });

  it('refusals spread wider than the window never add up to a cut (the default of 20 would not apply either)', async () => {
    const f = follower({ maxRefusals: 2, refusalWindowMs: 1_000 });
    const a = f.site();
    a.refuse(50, 600);
    expect(a.state).toEqual({ closed: false, rejected: 50 });
    // Three within the window: cut.
    a.refuse(3, 10);
    expect(a.state.closed).toBe(true);
    await f.t.close();
  });

  it('a larger limit is honoured (the follower used a fixed 20 before)', async () => {
    const f = follower({ maxRefusals: 40, refusalWindowMs: 10_000 });
    const a = f.site();
    a.refuse(40);
    expect(a.state.closed).toBe(false);
    a.refuse(1);
    expect(a.state.closed).toBe(true);
    await f.t.close();
  });
});
