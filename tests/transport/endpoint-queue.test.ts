import { describe, expect, it } from 'vitest';
import { EndpointBase, FedtuneError, type EndpointOptions } from '@fedtune/shared';

/**
 * EndpointBase's queue and close handlers, made only when needed (an idle connection holds neither): what a
 * handler sees must be what it saw when both were always there.
 */
type Messages = { note: { n: number } };

class TestEndpoint extends EndpointBase<Messages, Messages> {
  constructor(options: EndpointOptions = {}) {
    super((event, raw) => {
      const n = (raw as { n?: unknown }).n;
      if (event !== 'note' || typeof n !== 'number') throw new FedtuneError('malformed_payload', `bad ${event}`);
      return { n };
    }, options);
  }
  protected emitWire(): void {}
  close(): void {
    this.markClosed('closed by this side');
  }
  deliver(event: string, raw: unknown): void {
    this.receive(event, raw);
  }
}

describe('EndpointBase: lazy queue and close handlers', () => {
  it('keeps messages and errors until their handlers attach, in order, then delivers new ones at once', () => {
    const e = new TestEndpoint();
    e.deliver('note', { n: 1 });
    e.deliver('note', { n: 'x' });
    e.deliver('note', { n: 2 });
    const seen: string[] = [];
    e.onMessage((m) => seen.push(`m${m.payload.n}`));
    // The error heads the queue: nothing behind it passes before an invalid handler attaches.
    expect(seen).toEqual(['m1']);
    e.onInvalid((err) => seen.push(`e:${err.code}`));
    expect(seen).toEqual(['m1', 'e:malformed_payload', 'm2']);
    e.deliver('note', { n: 3 });
    expect(seen).toEqual(['m1', 'e:malformed_payload', 'm2', 'm3']);
    expect(e.parsedCount).toBe(4);
  });

  it.each([
    [1, 4, 1, 3],
    [2, 5, 2, 3],
    [5, 5, 5, 0],
  ])('maxQueued %i with %i waiting: %i kept, %i dropped; once drained the queue takes that many again', (max, sent, kept, dropped) => {
    const e = new TestEndpoint({ maxQueued: max });
    for (let i = 0; i < sent; i++) e.deliver('note', { n: i });
    expect(e.dropped).toBe(dropped);
    const seen: number[] = [];
    e.onMessage((m) => seen.push(m.payload.n));
    expect(seen).toEqual([...Array(kept).keys()]);
    const e2 = new TestEndpoint({ maxQueued: max });
    for (let i = 0; i < max; i++) e2.deliver('note', { n: i });
    e2.onMessage(() => {});
    e2.onMessage(() => {}); // still attached: nothing waits
    e2.deliver('note', { n: 9 });
    expect(e2.dropped).toBe(0);
  });

  it('calls every close handler once with the reason, one added after the close at once, and none twice', () => {
    const e = new TestEndpoint();
    const calls: string[] = [];
    e.onClose((r) => calls.push(`a:${r}`));
    e.onClose((r) => calls.push(`b:${r}`));
    e.onClose((r) => calls.push(`c:${r}`));
    e.close();
    e.close();
    expect(calls).toEqual(['a:closed by this side', 'b:closed by this side', 'c:closed by this side']);
    e.onClose((r) => calls.push(`late:${r}`));
    expect(calls).toHaveLength(4);
    expect(calls[3]).toBe('late:closed by this side');
    expect(e.closed).toBe(true);
  });
});
