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

  it('the binary budget: bursts of binaryBytesBurst, refilled at binaryBytesPerSecond; absent, attachments are not counted', () => {
    let t = 0;
    const { Decoder: D } = boundedSocketIoParser({ ...limits, binaryBytesPerSecond: 1000, binaryBytesBurst: 3000 }, () => t);
    const d = new D();
    const out = decoded(d);
    const attach = (bytes: number) => {
      d.add('51-["fitResult",{"_placeholder":true,"num":0}]');
      d.add(new Uint8Array(bytes));
    };
    for (let i = 0; i < 3; i++) attach(1000);
    expect(out).toHaveLength(3);
    expect(() => attach(1)).toThrow('binary attachments past 1000 bytes per second');
    const e = new D();
    const eOut = decoded(e);
    const attachE = (bytes: number) => {
      e.add('51-["fitResult",{"_placeholder":true,"num":0}]');
      e.add(new Uint8Array(bytes));
    };
    attachE(3000);
    t += 500; // half a second: 500 bytes back, exactly
    attachE(500);
    expect(eOut).toHaveLength(2);
    expect(() => attachE(1)).toThrow(/past 1000 bytes per second/);
    t += 60_000; // refilled to the burst, not beyond it
    const f = new D();
    decoded(f);
    f.add('51-["fitResult",{"_placeholder":true,"num":0}]');
    expect(() => f.add(new Uint8Array(3001))).toThrow(/per second/);
    // Without a binary budget (both limits needed), attachments of any size pass the decoder's bounds.
    for (const partial of [{}, { binaryBytesPerSecond: 1000 }, { binaryBytesBurst: 3000 }]) {
      const { Decoder: G } = boundedSocketIoParser({ ...limits, ...partial }, () => 0);
      const g = new G();
      const gOut = decoded(g);
      for (let i = 0; i < 5; i++) {
        g.add('51-["fitResult",{"_placeholder":true,"num":0}]');
        g.add(new Uint8Array(10_000));
      }
      expect(gOut).toHaveLength(5);
    }
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
