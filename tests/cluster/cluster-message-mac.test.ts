import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { authenticateServerSideEmits, ClusterMessageMac, MAX_CLUSTER_SECRET_FILE_BYTES, MAX_REMEMBERED_NONCES, MIN_CLUSTER_SECRET_BYTES, readClusterSecret } from '../../coordinator/src/cluster/cluster-message-mac.ts';
import { ClusterOptions } from '../../coordinator/src/cluster/cluster-options.ts';
import { FedtuneError } from '../../shared/src/errors.ts';
import { thrown } from '../helpers/thrown.ts';

const SECRET = Buffer.from('a'.repeat(32));
const OTHER = Buffer.from('b'.repeat(32));
const WINDOW = 60_000;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'fedtune-secret-'));
}

function writeSecret(content: string | Buffer): string {
  const file = join(tempDir(), 'secret');
  writeFileSync(file, content);
  return file;
}

function pair(t = { now: 1_000_000 }) {
  const now = () => t.now;
  return { t, a: new ClusterMessageMac(SECRET, 'node-a', { windowMs: WINDOW, now }), b: new ClusterMessageMac(SECRET, 'node-b', { windowMs: WINDOW, now }) };
}

describe('readClusterSecret (--cluster-secret-file)', () => {
  it.each([
    ['exactly 32 bytes', 'k'.repeat(32), 32],
    ['32 bytes and a newline (the newline is not part of it)', `${'k'.repeat(32)}\n`, 32],
    ['32 bytes and CRLF, spaces and tabs', `${'k'.repeat(32)} \t\r\n`, 32],
    ['64 hex characters (openssl rand -hex 32)', `${'0f'.repeat(32)}\n`, 64],
  ])('accepts %s', (_what, content, bytes) => {
    expect(readClusterSecret(writeSecret(content)).byteLength).toBe(bytes);
  });

  it.each([
    ['31 bytes', 'k'.repeat(31), /is 31 bytes; at least 32/],
    ['31 bytes and a newline', `${'k'.repeat(31)}\n`, /is 31 bytes; at least 32/],
    ['an empty file', '', /is 0 bytes; at least 32/],
    ['a file over 4096 bytes', 'k'.repeat(MAX_CLUSTER_SECRET_FILE_BYTES + 1), /is 4097 bytes; at most 4096/],
  ])('refuses %s with a config error that never shows the content', (_what, content, message) => {
    const err = thrown(() => readClusterSecret(writeSecret(content)));
    expect(err).toBeInstanceOf(FedtuneError);
    expect(err).toMatchObject({ code: 'config', message: expect.stringMatching(message) });
    if (content.length > 0) expect((err as Error).message).not.toContain(content.trim().slice(0, 16));
  });

  it('accepts exactly 4096 bytes and refuses a missing file naming it', () => {
    expect(readClusterSecret(writeSecret('k'.repeat(MAX_CLUSTER_SECRET_FILE_BYTES))).byteLength).toBe(4096);
    const missing = join(tempDir(), 'nope');
    expect(thrown(() => readClusterSecret(missing))).toMatchObject({ code: 'config', message: `cannot read the cluster secret file ${missing}: ENOENT` });
    expect(MIN_CLUSTER_SECRET_BYTES).toBe(32);
  });

  it('a ClusterMessageMac refuses a secret under 32 bytes', () => {
    expect(thrown(() => new ClusterMessageMac(Buffer.alloc(31, 1), 'n', { windowMs: WINDOW }))).toMatchObject({ code: 'config' });
    expect(() => new ClusterMessageMac(Buffer.alloc(32, 1), 'n', { windowMs: WINDOW })).not.toThrow();
  });
});

describe('ClusterMessageMac: sealed inter-node messages', () => {
  it('a sealed message opens on another node with the same secret: sender and payload (binary kept) as sent', () => {
    const { a, b } = pair();
    const sums = new Uint8Array(1_600_000).map((_, i) => i % 251);
    const sealed = a.seal('fedtune:partial', { node: 'node-a', round: 2, partial: { sums } });
    expect(sealed.mac.byteLength).toBe(32);
    // One HMAC over the whole sealed encoding.
    expect(Buffer.compare(Buffer.from(sealed.mac), createHmac('sha256', SECRET).update(sealed.fedtuneSealed).digest())).toBe(0);
    const opened = b.open('fedtune:partial', sealed);
    expect(opened.node).toBe('node-a');
    const payload = opened.payload as { node: string; round: number; partial: { sums: Uint8Array } };
    expect(payload.round).toBe(2);
    expect(Buffer.compare(Buffer.from(payload.partial.sums), Buffer.from(sums))).toBe(0);
  });

  it('payloads without a node, and non-object payloads, open too', () => {
    const { a, b } = pair();
    expect(b.open('e', a.seal('e', { x: 1 })).payload).toEqual({ x: 1 });
    expect(b.open('e', a.seal('e', 42)).payload).toBe(42);
    expect(b.open('e', a.seal('e', null)).payload).toBeNull();
  });

  const refusals: Array<[string, (m: ReturnType<typeof pair>) => unknown, string, RegExp]> = [
    ['no MAC (a plain payload)', () => ({ node: 'node-a', token: 99 }), 'e', /without a MAC/],
    ['null', () => null, 'e', /without a MAC/],
    ['a MAC that is not bytes', ({ a }) => ({ ...a.seal('e', {}), mac: 'x'.repeat(32) }), 'e', /without a MAC/],
    ['sealed bytes that are not bytes', ({ a }) => ({ ...a.seal('e', {}), fedtuneSealed: 'x' }), 'e', /without a MAC/],
    ['a wrong secret', () => new ClusterMessageMac(OTHER, 'node-a', { windowMs: WINDOW, now: () => 1_000_000 }).seal('e', {}), 'e', /wrong MAC/],
    ['a short MAC', ({ a }) => ({ ...a.seal('e', {}), mac: new Uint8Array(31) }), 'e', /wrong MAC/],
    ['a flipped byte in the sealed bytes', ({ a }) => {
      const s = a.seal('e', { node: 'node-a', v: 1 });
      const bytes = Buffer.from(s.fedtuneSealed);
      bytes[bytes.length - 2] ^= 1;
      return { ...s, fedtuneSealed: bytes };
    }, 'e', /wrong MAC/],
    ['sealed for another event', ({ a }) => a.seal('fedtune:leader', { node: 'node-a' }), 'fedtune:relay', /sealed for another event/],
    ['a payload speaking for another node', ({ a }) => a.seal('e', { node: 'node-c' }), 'e', /sealed by node node-a speaking for node node-c/],
  ];
  it.each(refusals)('refuses %s (unauthorized)', (_what, make, event, message) => {
    const m = pair();
    expect(thrown(() => m.b.open(event, make(m)))).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(message) });
  });

  /** Sealed bytes made by hand with the right secret: what a holder of the secret could send, still checked. */
  function handSealed(fields: unknown[]) {
    const sealed = serialize(fields);
    return { fedtuneSealed: sealed, mac: createHmac('sha256', SECRET).update(sealed).digest() };
  }
  it.each([
    ['not the sealed form', ['e', 'node-a', 1_000_000, 'f'.repeat(32)], /not in the sealed form/],
    ['an invalid node id', ['e', 'evil node!', 1_000_000, 'f'.repeat(32), {}], /without a valid node id/],
    ['no timestamp', ['e', 'node-a', 'now', 'f'.repeat(32), {}], /without a timestamp/],
    ['an infinite timestamp', ['e', 'node-a', Number.POSITIVE_INFINITY, 'f'.repeat(32), {}], /without a timestamp/],
    ['a short nonce', ['e', 'node-a', 1_000_000, 'f'.repeat(31), {}], /without a nonce/],
  ])('refuses sealed bytes with %s', (_what, fields, message) => {
    expect(thrown(() => pair().b.open('e', handSealed(fields)))).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(message) });
  });

  it.each([
    [-WINDOW - 1, false],
    [-WINDOW, true],
    [0, true],
    [WINDOW, true],
    [WINDOW + 1, false],
  ])('a message sealed %i ms from the receiver\'s clock (window 60 s) opens: %s', (skew, opens) => {
    const sender = { now: 1_000_000 };
    const receiver = { now: 1_000_000 + skew };
    const a = new ClusterMessageMac(SECRET, 'node-a', { windowMs: WINDOW, now: () => sender.now });
    const b = new ClusterMessageMac(SECRET, 'node-b', { windowMs: WINDOW, now: () => receiver.now });
    const open = () => b.open('e', a.seal('e', {}));
    if (opens) expect(open().node).toBe('node-a');
    else expect(thrown(open)).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/from this node's clock \(window 60000 ms\)/) });
  });

  it('a replayed message is refused while its timestamp is in the window, and refused by the window after', () => {
    const { t, a, b } = pair();
    const sealed = a.seal('e', { node: 'node-a' });
    expect(b.open('e', sealed).node).toBe('node-a');
    expect(thrown(() => b.open('e', sealed))).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/replayed/) });
    t.now += WINDOW + 1;
    expect(thrown(() => b.open('e', sealed))).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/window/) });
    // Fresh messages still open after old nonces are forgotten.
    expect(b.open('e', a.seal('e', {})).node).toBe('node-a');
    expect(MAX_REMEMBERED_NONCES).toBe(200_000);
  });

  it('tagText/verifyText: a MAC over a short text (a model version key and its sha-256)', () => {
    const { a, b } = pair();
    const tag = a.tagText('fedtune:model:3\nabc');
    expect(tag).toMatch(/^[0-9a-f]{64}$/);
    expect(b.verifyText('fedtune:model:3\nabc', tag)).toBe(true);
    expect(b.verifyText('fedtune:model:4\nabc', tag)).toBe(false);
    expect(b.verifyText('fedtune:model:3\nabc', undefined)).toBe(false);
    expect(b.verifyText('fedtune:model:3\nabc', tag.slice(1))).toBe(false);
    expect(b.verifyText('fedtune:model:3\nabc', tag.toUpperCase())).toBe(false);
    expect(new ClusterMessageMac(OTHER, 'x', { windowMs: WINDOW }).verifyText('fedtune:model:3\nabc', tag)).toBe(false);
  });

  it('ClusterOptions.macWindowMs: 60 s by default, 1 s to 1 h', () => {
    expect(ClusterOptions.parse({ redisUrl: 'redis://h:1' }).macWindowMs).toBe(60_000);
    expect(ClusterOptions.parse({ redisUrl: 'redis://h:1', macWindowMs: 1_000 }).macWindowMs).toBe(1_000);
    expect(ClusterOptions.parse({ redisUrl: 'redis://h:1', macWindowMs: 3_600_000 }).macWindowMs).toBe(3_600_000);
    for (const bad of [999, 3_600_001, 1.5, Number.NaN]) expect(ClusterOptions.safeParse({ redisUrl: 'redis://h:1', macWindowMs: bad }).success).toBe(false);
  });
});

describe('authenticateServerSideEmits: the one place inter-node messages are sealed and opened', () => {
  function namespace() {
    const sent: unknown[][] = [];
    const delivered: unknown[][] = [];
    const nsp = {
      serverSideEmit: (event: string, ...args: unknown[]) => (sent.push([event, ...args]), true),
      _onServerSideEmit: (args: unknown[]) => void delivered.push(args),
    };
    return { nsp, sent, delivered };
  }

  it('emits are sealed; sealed messages from a node with the secret are delivered; anything else is refused and never delivered', () => {
    const { a, b } = pair();
    const from = namespace();
    authenticateServerSideEmits(from.nsp, a, () => {});
    from.nsp.serverSideEmit('fedtune:leader', { node: 'node-a', token: 3 });
    expect(from.sent).toHaveLength(1);
    expect(from.sent[0][0]).toBe('fedtune:leader');
    expect(from.sent[0][1]).toHaveProperty('fedtuneSealed');

    const to = namespace();
    const refused: FedtuneError[] = [];
    authenticateServerSideEmits(to.nsp, b, (err) => refused.push(err));
    to.nsp._onServerSideEmit(from.sent[0]);
    expect(to.delivered).toEqual([['fedtune:leader', { node: 'node-a', token: 3 }]]);
    to.nsp._onServerSideEmit(['fedtune:leader', { node: 'evil', token: 99 }]);
    to.nsp._onServerSideEmit([42, from.sent[0][1]]);
    to.nsp._onServerSideEmit(from.sent[0]);
    expect(to.delivered).toHaveLength(1);
    expect(refused.map((e) => [e.code, e.message])).toEqual([
      ['unauthorized', 'a cluster message without a MAC'],
      ['unauthorized', 'a cluster message without an event name'],
      ['unauthorized', expect.stringMatching(/replayed/)],
    ]);
  });
});
