import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { buildApp, LiveEvents, MAX_UNREAD_EVENT_BYTES } from '@fedtune/coordinator';
import { tempDir } from '../helpers/federation.ts';

/**
 * `/api/events` writes every engine event and the live status (every joined site) to each open stream,
 * whether or not its client reads. A client that connects and never reads (or reads slower than the run
 * produces events) kept all of it queued in the coordinator's memory for as long as it stayed connected: each
 * write counts as activity, so no idle timeout ever closed it. Now a stream with more than
 * MAX_UNREAD_EVENT_BYTES unread beyond its snapshot is ended (the dashboard reconnects and gets a new snapshot).
 */
it('a client that never reads the event stream does not make the coordinator queue without bound', { timeout: 60_000 }, async () => {
  const events = new LiveEvents();
  // 2,000 joined sites: about 150 kB of live status with every event.
  const sites = Array.from({ length: 2_000 }, (_, i) => ({ siteId: `site-${i}`, backend: 'cpu', runtime: 'node', lastSeen: new Date(0).toISOString() }));
  const c = buildApp({ runsDir: tempDir(), maxMessageBytes: 1 << 20, events, live: () => ({ runId: 'r1', phase: 'training', round: 1, sites }) });
  const url = new URL(await c.app.listen({ port: 0, host: '127.0.0.1' }));
  try {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(`GET /api/events HTTP/1.1\r\nhost: ${url.host}\r\naccept: text/event-stream\r\n\r\n`);
    socket.pause(); // never reads: the kernel's buffers fill, then the coordinator's
    await new Promise((r) => setTimeout(r, 200));
    const liveBytes = JSON.stringify({ runId: 'r1', phase: 'training', round: 1, sites }).length;
    // 1,000 events: about 150 MB of stream for this one client.
    for (let i = 0; i < 1_000; i++) {
      events.publish({ type: 'waiting', joined: i, needed: 5_000 });
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    const published = 1_000 * liveBytes;
    expect(published).toBeGreaterThan(100 * 1024 * 1024);

    // Now read everything the coordinator still holds for this client.
    let received = 0;
    const ended = new Promise<boolean>((resolve) => {
      socket.on('end', () => resolve(true));
      socket.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 15_000);
    });
    socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    socket.resume();
    expect(await ended).toBe(true);
    // What the kernel's socket buffers held (a few MB each way on loopback) plus the bound, never the 150 MB.
    expect(MAX_UNREAD_EVENT_BYTES).toBe(8 * 1024 * 1024);
    expect(received).toBeLessThan(MAX_UNREAD_EVENT_BYTES + 24 * 1024 * 1024);
    socket.destroy();
  } finally {
    await c.app.close();
  }
});
