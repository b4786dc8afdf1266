import { describe, expect, it } from 'vitest';
import { Decoder } from 'socket.io-parser';
import { boundedSocketIoParser } from '../../coordinator/src/transport/bounded-socketio-parser.ts';

// The coordinator's socket.io decoder alone (over real socket.io: tests/hostile/welcomed-packet-bounds.test.ts).
describe('boundedSocketIoParser (the decoder alone)', () => {
  const limits = { maxTextMessageBytes: 100, textBytesPerSecond: 1000, textBytesBurst: 300 };
  const decoded = (d: Decoder) => {
    const out: unknown[] = [];
    d.on('decoded', (p: unknown) => out.push(p));
    return out;
  };
  const event = (n: number) => `2["heartbeat",${JSON.stringify('z'.repeat(Math.max(0, n - 17)))}]`;

  it('a text packet of exactly maxTextMessageBytes is decoded; one character more throws', () => {
    let t = 0;
    const { Decoder: D } = boundedSocketIoParser(limits, () => t);
    const d = new D();
    const out = decoded(d);
    d.add(event(100));
    expect(event(100)).toHaveLength(100);
    expect(out).toHaveLength(1);
    expect(() => new D().add(event(101))).toThrow('text packet of 101 characters (at most 100)');
  });

  it('the budget: a burst of textBytesBurst, refilled at textBytesPerSecond', () => {
    let t = 0;
    const { Decoder: D } = boundedSocketIoParser(limits, () => t);
    const d = new D();
    const out = decoded(d);
    for (let i = 0; i < 3; i++) d.add(event(100));
    expect(() => d.add(event(50))).toThrow('text packets past 1000 characters per second');
    t += 100; // 0.1 s: 100 characters back
    d.add(event(100));
    expect(out).toHaveLength(4);
    expect(() => d.add(event(20))).toThrow(/past 1000 characters per second/);
    t += 10_000; // refilled to the burst, not beyond it
    for (let i = 0; i < 3; i++) d.add(event(100));
    expect(() => d.add(event(20))).toThrow(/per second/);
  });

  it('one attachment per binary packet; a second is refused; binary data alone is left to socket.io\'s own check', () => {
    const { Decoder: D } = boundedSocketIoParser(limits, () => 0);
    const d = new D();
    const out = decoded(d);
    d.add('51-["fitResult",{"_placeholder":true,"num":0}]');
    // An attachment (an update's bytes) is bounded by the websocket's message size, not by the JSON's bounds or budget.
    d.add(new Uint8Array(10 * limits.textBytesBurst));
    expect(out).toHaveLength(1);
    d.add('51-["fitResult",{"_placeholder":true,"num":0}]');
    d.add(new Uint8Array(10 * limits.textBytesBurst));
    expect(out).toHaveLength(2);
    expect(() => new D().add('52-["fitResult",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')).toThrow('too many attachments');
    expect(() => new D().add(new Uint8Array([1]))).toThrow('got binary data when not reconstructing a packet');
  });
});
