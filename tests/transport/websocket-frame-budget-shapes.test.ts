import { describe, expect, it } from 'vitest';
import { websocketFrameBudget } from '../../shared/src/transport/websocket-frame-budget.ts';

// The budget reaches into ws's receiver (ws 8). Anything but a ws websocket, or one whose receiver lacks what the
// budget wraps, is left unlimited here (undefined) rather than broken; a complete one is limited (the real ws:
// tests/hostile/websocket-frame-flood.test.ts, tests/hostile/site-frame-flood.test.ts).
const limits = { framesPerSecond: 1, frameBurst: 1 };
const receiver = () => ({ getInfo: () => {}, _bufferedBytes: 0, _loop: true });

describe('websocketFrameBudget on connections of other shapes', () => {
  it.each([
    ['no websocket', undefined],
    ['an object of another kind', {}],
    ['no receiver yet (a ws client still connecting)', { _receiver: null, terminate: () => {} }],
    ['no receiver', { terminate: () => {} }],
    ['a receiver without getInfo', { _receiver: { ...receiver(), getInfo: 1 }, terminate: () => {} }],
    ['a receiver without its buffered byte count', { _receiver: { ...receiver(), _bufferedBytes: '0' }, terminate: () => {} }],
    ['a websocket without terminate', { _receiver: receiver(), terminate: 1 }],
  ])('%s: not limited (undefined)', (_name, c) => {
    expect(websocketFrameBudget(c, limits)).toBeUndefined();
  });

  it('a complete one is limited: its second frame past a burst of 1 terminates it and stops the parse loop', () => {
    let terminated = 0;
    let parsed = 0;
    const cuts: number[] = [];
    const r = { getInfo: (_cb: unknown) => void parsed++, _bufferedBytes: 6, _loop: true };
    const budget = websocketFrameBudget({ _receiver: r, terminate: () => void terminated++ }, limits, () => void cuts.push(terminated));
    expect(budget).toBeDefined();
    r.getInfo(undefined);
    expect([parsed, terminated, r._loop]).toEqual([1, 0, true]);
    r.getInfo(undefined);
    expect([parsed, terminated, r._loop]).toEqual([1, 1, false]);
    // onCut was told once, before the websocket was terminated.
    expect(cuts).toEqual([0]);
    // Later reads parse nothing and do not terminate again.
    r._loop = true;
    r.getInfo(undefined);
    expect([parsed, terminated, r._loop]).toEqual([1, 1, false]);
    expect(cuts).toEqual([0]);
  });

  it('a header of fewer than two bytes is not counted until it is whole', () => {
    let parsed = 0;
    const r = { getInfo: (_cb: unknown) => void parsed++, _bufferedBytes: 1, _loop: true };
    websocketFrameBudget({ _receiver: r, terminate: () => {} }, limits);
    r.getInfo(undefined);
    r.getInfo(undefined);
    r._bufferedBytes = 2;
    r.getInfo(undefined);
    expect(parsed).toBe(3);
    r.getInfo(undefined);
    expect(parsed).toBe(3);
  });
});
