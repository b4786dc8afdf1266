import { describe, expect, it } from 'vitest';
import { websocketFrameBudget } from '../../coordinator/src/transport/websocket-frame-budget.ts';

// The budget reaches into ws's receiver (ws 8). A connection whose transport is not a ws websocket, or whose
// receiver lacks what the budget wraps, is left unlimited here (undefined) rather than broken; a complete one is
// limited (the real ws: tests/hostile/websocket-frame-flood.test.ts).
const limits = { framesPerSecond: 1, frameBurst: 1 };
const receiver = () => ({ getInfo: () => {}, _bufferedBytes: 0, _loop: true });
const conn = (socket: unknown) => ({ transport: { socket } });

describe('websocketFrameBudget on connections of other shapes', () => {
  it.each([
    ['no connection', undefined],
    ['no transport', {}],
    ['no websocket', { transport: {} }],
    ['no receiver', conn({ terminate: () => {} })],
    ['a receiver without getInfo', conn({ _receiver: { ...receiver(), getInfo: 1 }, terminate: () => {} })],
    ['a receiver without its buffered byte count', conn({ _receiver: { ...receiver(), _bufferedBytes: '0' }, terminate: () => {} })],
    ['a websocket without terminate', conn({ _receiver: receiver(), terminate: 1 })],
  ])('%s: not limited (undefined)', (_name, c) => {
    expect(websocketFrameBudget(c, limits)).toBeUndefined();
  });

  it('a complete one is limited: its second frame past a burst of 1 terminates it and stops the parse loop', () => {
    let terminated = 0;
    let parsed = 0;
    const r = { getInfo: (_cb: unknown) => void parsed++, _bufferedBytes: 6, _loop: true };
    const budget = websocketFrameBudget(conn({ _receiver: r, terminate: () => void terminated++ }), limits);
    expect(budget).toBeDefined();
    r.getInfo(undefined);
    expect([parsed, terminated, r._loop]).toEqual([1, 0, true]);
    r.getInfo(undefined);
    expect([parsed, terminated, r._loop]).toEqual([1, 1, false]);
    // Later reads parse nothing and do not terminate again.
    r._loop = true;
    r.getInfo(undefined);
    expect([parsed, terminated, r._loop]).toEqual([1, 1, false]);
  });

  it('a header of fewer than two bytes is not counted until it is whole', () => {
    let parsed = 0;
    const r = { getInfo: (_cb: unknown) => void parsed++, _bufferedBytes: 1, _loop: true };
    websocketFrameBudget(conn({ _receiver: r, terminate: () => {} }), limits);
    r.getInfo(undefined);
    r.getInfo(undefined);
    r._bufferedBytes = 2;
    r.getInfo(undefined);
    expect(parsed).toBe(3);
    r.getInfo(undefined);
    expect(parsed).toBe(3);
  });
});
