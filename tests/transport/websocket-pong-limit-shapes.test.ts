import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PONGS_WHILE_WRITES_WAIT, limitPongsWhileWritesWait } from '../../shared/src/transport/websocket-pong-limit.ts';

// The limit reaches into ws (its automatic pong, its 'ping' event, its TCP socket's unsent bytes) and, on a site,
// engine.io-client's `_sendPacket`. Here on fakes of those shapes, counting what is sent; the real ws and engine.io:
// tests/hostile/site-frame-flood.test.ts and tests/hostile/websocket-frame-flood.test.ts.

/** A fake ws: pongs sent are recorded; `unsent` is its TCP socket's writableLength. */
function fakeWebsocket(unsent = 1) {
  const ws = Object.assign(new EventEmitter(), {
    _autoPong: true as boolean,
    _socket: { writableLength: unsent } as { writableLength: number } | null,
    sent: [] as Array<{ data: Buffer; mask: unknown; cb: unknown }>,
    pong(data: Buffer, mask?: boolean, cb?: () => void) {
      ws.sent.push({ data, mask, cb });
    },
  });
  return ws;
}
const ping = (ws: EventEmitter, n: number) => {
  for (let i = 0; i < n; i++) ws.emit('ping', Buffer.from([i & 0xff]));
};

describe('limitPongsWhileWritesWait', () => {
  it.each([
    ['nothing', undefined],
    ['an object of another kind', {}],
    ['no automatic pong flag (a browser WebSocket, an older ws)', { on: () => {}, pong: () => {} }],
    ['a flag that is not a boolean', { _autoPong: 1, on: () => {}, pong: () => {} }],
    ['no on()', { _autoPong: true, pong: () => {} }],
    ['no pong()', { _autoPong: true, on: () => {} }],
  ])('%s: not limited (false), left as it is', (_name, ws) => {
    const before = ws === undefined ? undefined : { ...ws };
    expect(limitPongsWhileWritesWait(ws)).toBe(false);
    expect(ws).toEqual(before);
  });

  it('a ws websocket: its automatic pong is turned off and the limit answers instead (true)', () => {
    const ws = fakeWebsocket(0);
    expect(limitPongsWhileWritesWait(ws)).toBe(true);
    expect(ws._autoPong).toBe(false);
    ping(ws, 3);
    // Each ping's own data echoed, the mask left to ws (its default for the side), a callback for a write after close.
    expect(ws.sent.map((s) => [...s.data])).toEqual([[0], [1], [2]]);
    expect(ws.sent.every((s) => s.mask === undefined && typeof s.cb === 'function')).toBe(true);
    expect(() => (ws.sent[0].cb as (e?: Error) => void)(new Error('closed'))).not.toThrow();
  });

  it(`while writes wait, the default answers ${DEFAULT_PONGS_WHILE_WRITES_WAIT} pings and no more`, () => {
    expect(DEFAULT_PONGS_WHILE_WRITES_WAIT).toBe(64);
    const ws = fakeWebsocket(1);
    limitPongsWhileWritesWait(ws);
    ping(ws, 200);
    expect(ws.sent).toHaveLength(64);
  });

  it.each([0, 1, 5])('max %i: that many answered while writes wait', (max) => {
    const ws = fakeWebsocket(10);
    limitPongsWhileWritesWait(ws, undefined, max);
    ping(ws, 20);
    expect(ws.sent).toHaveLength(max);
  });

  it('nothing unsent: every ping is answered, however many', () => {
    const ws = fakeWebsocket(0);
    limitPongsWhileWritesWait(ws, undefined, 2);
    ping(ws, 50);
    expect(ws.sent).toHaveLength(50);
  });

  it('no socket (closed): counted as nothing unsent', () => {
    const ws = fakeWebsocket(0);
    ws._socket = null;
    limitPongsWhileWritesWait(ws, undefined, 2);
    ping(ws, 5);
    expect(ws.sent).toHaveLength(5);
  });

  it('the count starts again once the backlog has drained to nothing, and not before', () => {
    const ws = fakeWebsocket(100);
    limitPongsWhileWritesWait(ws, undefined, 3);
    ping(ws, 5);
    expect(ws.sent).toHaveLength(3);
    // Drained a little, not to nothing: still none.
    ws._socket!.writableLength = 1;
    ping(ws, 5);
    expect(ws.sent).toHaveLength(3);
    // Drained: answered, and the writes wait again after the first: three more in all.
    ws._socket!.writableLength = 0;
    ping(ws, 1);
    ws._socket!.writableLength = 6;
    ping(ws, 5);
    expect(ws.sent).toHaveLength(6);
  });

  it("engine.io's pongs share the count; its other packets pass untouched, with their arguments and result", () => {
    const ws = fakeWebsocket(1);
    const packets: unknown[][] = [];
    const engine = {
      _sendPacket(this: unknown, ...args: unknown[]) {
        packets.push([this === engine, ...args]);
        return 'sent';
      },
    };
    limitPongsWhileWritesWait(ws, engine, 3);
    expect(engine._sendPacket('message', 'x', { compress: true }, 'fn')).toBe('sent');
    expect(engine._sendPacket('pong')).toBe('sent');
    ping(ws, 1);
    expect(engine._sendPacket('pong')).toBe('sent');
    // The limit is reached (2 engine.io pongs and 1 websocket pong): this one is dropped, messages still go.
    expect(engine._sendPacket('pong')).toBeUndefined();
    ping(ws, 1);
    expect(engine._sendPacket('message', 'y')).toBe('sent');
    expect(packets).toEqual([
      [true, 'message', 'x', { compress: true }, 'fn'],
      [true, 'pong'],
      [true, 'pong'],
      [true, 'message', 'y'],
    ]);
    expect(ws.sent).toHaveLength(1);
  });

  it('an engine without _sendPacket is left as it is (the websocket is still limited)', () => {
    const ws = fakeWebsocket(1);
    const engine = { _sendPacket: 'not a function' };
    expect(limitPongsWhileWritesWait(ws, engine, 1)).toBe(true);
    expect(engine._sendPacket).toBe('not a function');
  });

  it('an engine is not touched when the websocket is not limited (a browser)', () => {
    const send = () => 'sent';
    const engine = { _sendPacket: send };
    expect(limitPongsWhileWritesWait({}, engine, 0)).toBe(false);
    expect(engine._sendPacket).toBe(send);
  });
});
