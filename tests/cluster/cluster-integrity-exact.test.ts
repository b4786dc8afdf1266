import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { ZodType } from 'zod';
// Imported from the files, not the package index: mutation runs load these tests without tfjs.
import { authenticateServerSideEmits, ClusterMessageMac, readClusterSecret, type SealedClusterMessage } from '../../coordinator/src/cluster/cluster-message-mac.ts';
import { CLUSTER_EVENTS, LeaderMessage, ModelVersionMessage, NodeAliveMessage, RelayClosedMessage, RelayMessage, RunDoneMessage } from '../../coordinator/src/cluster/cluster-messages.ts';
import { EvaluationRequestMessage, EvaluationResultMessage } from '../../coordinator/src/cluster/evaluation-messages.ts';
import { checkFencingToken, FencingTokens, MAX_FENCING_TOKEN } from '../../coordinator/src/cluster/fencing-check.ts';
import { PartialMessage, SiteAcceptanceMessage } from '../../coordinator/src/cluster/partial-round-messages.ts';
import { MAX_RECORDS_PER_BATCH, SiteAcceptanceBatchMessage } from '../../coordinator/src/cluster/record-batch-messages.ts';
import { MAX_PLAN_SITES, RoundCloseMessage, RoundPlanMessage } from '../../coordinator/src/cluster/round-plan-messages.ts';
import { MAX_SENDS_PER_MESSAGE, SiteSendsMessage } from '../../coordinator/src/cluster/site-sends-messages.ts';
import { FedtuneError } from '../../shared/src/errors.ts';
import { withValue } from '../messages/with-value.ts';
import { thrown } from '../helpers/thrown.ts';

const SECRET = Buffer.from('s'.repeat(32));
const WINDOW = 60_000;
const T0 = 5_000_000;

function secretFile(content: string | Buffer, name = 'secret'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'fedtune-exact-secret-')), name);
  writeFileSync(file, content);
  return file;
}

function macs(clock = { now: T0 }, maxNonces?: number) {
  const now = () => clock.now;
  return {
    clock,
    a: new ClusterMessageMac(SECRET, 'node-a', { windowMs: WINDOW, now }),
    b: new ClusterMessageMac(SECRET, 'node-b', { windowMs: WINDOW, now, maxNonces }),
  };
}

/** Sealed bytes made by hand with the right secret: what a holder of the secret could send, still checked field by field. */
function handSealed(fields: unknown): SealedClusterMessage {
  const sealed = serialize(fields);
  return { fedtuneSealed: sealed, mac: createHmac('sha256', SECRET).update(sealed).digest() };
}

/** Raw bytes under a right MAC (not a v8 encoding at all). */
function rawSealed(bytes: Buffer): SealedClusterMessage {
  return { fedtuneSealed: bytes, mac: createHmac('sha256', SECRET).update(bytes).digest() };
}

const NONCE = 'ab'.repeat(16);

describe('readClusterSecret: exactly the bytes of the file, less trailing blanks', () => {
  it('keeps the bytes as they are, leading and inner blanks included; trims only trailing LF, CR, space and tab', () => {
    const body = ` k\tk\nk${'k'.repeat(29)}`;
    expect(readClusterSecret(secretFile(body)).toString('latin1')).toBe(body);
    for (const blank of ['\n', '\r', ' ', '\t']) expect(readClusterSecret(secretFile(`${'k'.repeat(32)}${blank.repeat(3)}`)).toString('latin1')).toBe('k'.repeat(32));
    // Other trailing bytes are part of the secret.
    expect(readClusterSecret(secretFile(`${'k'.repeat(32)}\v`)).byteLength).toBe(33);
    expect(readClusterSecret(secretFile(Buffer.concat([Buffer.alloc(32, 7), Buffer.from([0])]))).byteLength).toBe(33);
    // Blanks inside are not trailing: only the run at the end goes.
    expect(readClusterSecret(secretFile(`${'k'.repeat(16)} \n${'k'.repeat(16)} \n`)).toString('latin1')).toBe(`${'k'.repeat(16)} \n${'k'.repeat(16)}`);
    // A secret of blanks only is empty.
    expect(thrown(() => readClusterSecret(secretFile(' \n'.repeat(40)))).message).toMatch(/ is 0 bytes; at least 32 are needed/);
  });

  it('says exactly what is wrong, naming the file (clipped at 200 characters) and never the content', () => {
    const short = secretFile(`${'q'.repeat(31)} \n`);
    expect(thrown(() => readClusterSecret(short))).toMatchObject({ code: 'config', message: `the cluster secret in ${short} is 31 bytes; at least 32 are needed (e.g. openssl rand -hex 32 > ${short})` });
    const large = secretFile('q'.repeat(4097));
    expect(thrown(() => readClusterSecret(large))).toMatchObject({ code: 'config', message: `the cluster secret file ${large} is 4097 bytes; at most 4096 (one line of random text, e.g. openssl rand -hex 32)` });
    const dir = mkdtempSync(join(tmpdir(), 'fedtune-exact-secret-'));
    expect(thrown(() => readClusterSecret(dir))).toMatchObject({ code: 'config', message: `cannot read the cluster secret file ${dir}: EISDIR` });
    const long = join(dir, 'x'.repeat(250));
    const message = thrown(() => readClusterSecret(long)).message;
    expect(message.startsWith(`cannot read the cluster secret file ${long.slice(0, 200)}… (${long.length - 200} more characters): `)).toBe(true);
    // The error code, clipped at 64 characters (an errno code is short; this is the bound).
    expect(message).toMatch(/: (ENOENT|ENAMETOOLONG)$/);
  });

  it('a secret of 31 bytes is refused by the MAC itself, 32 taken', () => {
    expect(thrown(() => new ClusterMessageMac(Buffer.alloc(31), 'n', { windowMs: WINDOW }))).toMatchObject({ code: 'config', message: 'a cluster secret needs at least 32 bytes' });
    expect(new ClusterMessageMac(Buffer.alloc(32), 'n', { windowMs: WINDOW }).tagText('x')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('ClusterMessageMac.seal and open, exactly', () => {
  it('seals [event, node, now, a fresh 16-byte hex nonce, payload] in one v8 encoding with its HMAC-SHA256', () => {
    const { a } = macs();
    const one = a.seal('fedtune:leader', { node: 'node-a', token: 2 });
    const two = a.seal('fedtune:leader', { node: 'node-a', token: 2 });
    const fields = deserialize(one.fedtuneSealed) as unknown[];
    expect(fields).toEqual(['fedtune:leader', 'node-a', T0, expect.stringMatching(/^[0-9a-f]{32}$/), { node: 'node-a', token: 2 }]);
    expect((deserialize(two.fedtuneSealed) as unknown[])[3]).not.toBe(fields[3]);
    expect(Buffer.from(one.mac).equals(createHmac('sha256', SECRET).update(one.fedtuneSealed).digest())).toBe(true);
  });

  it('opens what the same secret sealed, with the window taken from now() at each open', () => {
    const { clock, a, b } = macs();
    expect(b.open('e', a.seal('e', { node: 'node-a', v: [1, 2] }))).toEqual({ node: 'node-a', payload: { node: 'node-a', v: [1, 2] } });
    expect(b.open('e', handSealed(['e', 'node-c', T0 - WINDOW, NONCE, 'text']))).toEqual({ node: 'node-c', payload: 'text' });
    expect(b.open('e', handSealed(['e', 'n'.repeat(64), T0 + WINDOW, 'cd'.repeat(16), [1]]))).toEqual({ node: 'n'.repeat(64), payload: [1] });
    clock.now = T0 + 3 * WINDOW;
    expect(b.open('e', a.seal('e', 1)).payload).toBe(1);
  });

  const refusals: Array<[string, () => unknown, string, string]> = [
    ['undefined', () => undefined, 'e', 'a cluster message without a MAC'],
    ['a string', () => 'sealed', 'e', 'a cluster message without a MAC'],
    ['no sealed bytes', () => ({ mac: new Uint8Array(32) }), 'e', 'a cluster message without a MAC'],
    ['no MAC', () => ({ fedtuneSealed: serialize(['e']) }), 'e', 'a cluster message without a MAC'],
    ['a MAC one byte long', () => ({ ...handSealed(['e', 'node-a', T0, NONCE, {}]), mac: new Uint8Array(33) }), 'e', 'a cluster message with a wrong MAC (another cluster secret?)'],
    ['a MAC of zeros', () => ({ ...handSealed(['e', 'node-a', T0, NONCE, {}]), mac: new Uint8Array(32) }), 'e', 'a cluster message with a wrong MAC (another cluster secret?)'],
    ['sealed bytes that are not v8', () => rawSealed(Buffer.from('not a v8 value')), 'e', 'a cluster message whose sealed bytes do not decode'],
    ['an object, not the five fields', () => handSealed({ 0: 'e', 1: 'node-a', 2: T0, 3: NONCE, 4: {}, length: 5 }), 'e', 'a cluster message not in the sealed form'],
    ['six fields', () => handSealed(['e', 'node-a', T0, NONCE, {}, 'extra']), 'e', 'a cluster message not in the sealed form'],
    ['another event, clipped', () => handSealed(['E'.repeat(100), 'node-a', T0, NONCE, {}]), 'e', `a cluster message sealed for another event (${'E'.repeat(64)}… (36 more characters))`],
    ['a numeric node', () => handSealed(['e', 7, T0, NONCE, {}]), 'e', 'a cluster message sealed without a valid node id'],
    ['a node id of 65 characters', () => handSealed(['e', 'n'.repeat(65), T0, NONCE, {}]), 'e', 'a cluster message sealed without a valid node id'],
    ['a NaN timestamp', () => handSealed(['e', 'node-a', Number.NaN, NONCE, {}]), 'e', 'a cluster message without a timestamp'],
    ['a timestamp as text', () => handSealed(['e', 'node-a', String(T0), NONCE, {}]), 'e', 'a cluster message without a timestamp'],
    ['61.5 s behind', () => handSealed(['e', 'node-a', T0 - 61_500, NONCE, {}]), 'e', "a cluster message from node node-a sealed 62 s from this node's clock (window 60000 ms)"],
    ['90 s ahead', () => handSealed(['e', 'node-a', T0 + 90_000, NONCE, {}]), 'e', "a cluster message from node node-a sealed -90 s from this node's clock (window 60000 ms)"],
    ['a numeric nonce', () => handSealed(['e', 'node-a', T0, 12345, {}]), 'e', 'a cluster message without a nonce'],
    ['a nonce of 33 characters', () => handSealed(['e', 'node-a', T0, `${NONCE}0`, {}]), 'e', 'a cluster message without a nonce'],
    // Not text, though 32 long: an array or bytes would pass a length check alone.
    ['a nonce that is an array of 32', () => handSealed(['e', 'node-a', T0, Array.from({ length: 32 }, () => 'a'), {}]), 'e', 'a cluster message without a nonce'],
    ['a nonce of 32 bytes', () => handSealed(['e', 'node-a', T0, new Uint8Array(32), {}]), 'e', 'a cluster message without a nonce'],
    ['an infinite timestamp', () => handSealed(['e', 'node-a', Number.POSITIVE_INFINITY, NONCE, {}]), 'e', 'a cluster message without a timestamp'],
    ['a timestamp in an array', () => handSealed(['e', 'node-a', [T0], NONCE, {}]), 'e', 'a cluster message without a timestamp'],
    ['a payload for another node, clipped', () => handSealed(['e', 'node-a', T0, NONCE, { node: 'x'.repeat(80) }]), 'e', `a cluster message sealed by node node-a speaking for node ${'x'.repeat(64)}… (16 more characters)`],
    ['a payload naming a node by number', () => handSealed(['e', 'node-a', T0, NONCE, { node: 7 }]), 'e', 'a cluster message sealed by node node-a speaking for node 7'],
    ['a payload naming a null node', () => handSealed(['e', 'node-a', T0, NONCE, { node: null }]), 'e', 'a cluster message sealed by node node-a speaking for node null'],
  ];
  it.each(refusals)('refuses %s with the exact reason (unauthorized)', (_what, make, event, message) => {
    expect(thrown(() => macs().b.open(event, make()))).toMatchObject({ code: 'unauthorized', message });
  });

  it('payloads of every kind open, the primitive ones with no node to check', () => {
    const { b } = macs();
    const payloads = [null, undefined, 0, 'node-z', true, [], ['node-z'], { node: 'node-a' }, { other: 1 }];
    payloads.forEach((payload, i) => {
      expect(b.open('e', handSealed(['e', 'node-a', T0, i.toString(16).padStart(32, '0'), payload]))).toEqual({ node: 'node-a', payload });
    });
  });

  it('a refused message is not remembered: the same nonce in a valid message still opens once', () => {
    const { b } = macs();
    expect(() => b.open('e', handSealed(['e', 'node-a', T0, NONCE, { node: 'node-z' }]))).toThrow(/speaking for node node-z/);
    expect(b.open('e', handSealed(['e', 'node-a', T0, NONCE, { node: 'node-a' }])).node).toBe('node-a');
    expect(thrown(() => b.open('e', handSealed(['e', 'node-a', T0, NONCE, {}]))).message).toBe('a replayed cluster message from node node-a');
  });
});

describe('ClusterMessageMac: the nonces it remembers', () => {
  const sealedAt = (at: number, nonce: string) => handSealed(['e', 'node-a', at, nonce, {}]);
  const nonce = (i: number) => i.toString(16).padStart(32, '0');

  it('remembers a nonce while its message could pass the window (up to and including its edge)', () => {
    const { clock, b } = macs();
    const m = sealedAt(T0, nonce(1));
    b.open('e', m);
    clock.now = T0 + WINDOW;
    expect(thrown(() => b.open('e', m)).message).toBe('a replayed cluster message from node node-a');
  });

  it('forgets the nonces older than the window, oldest first, and keeps the younger ones', () => {
    const { clock, b } = macs();
    const old = sealedAt(T0, nonce(1));
    const young = sealedAt(T0 + 30_000, nonce(2));
    b.open('e', old);
    clock.now = T0 + 30_000;
    b.open('e', young);
    clock.now = T0 + WINDOW + 1;
    b.open('e', sealedAt(clock.now, nonce(3))); // forgets `old`
    expect(thrown(() => b.open('e', young)).message).toBe('a replayed cluster message from node node-a');
    // `old` is refused by the window now, not by memory.
    expect(thrown(() => b.open('e', old)).message).toMatch(/sealed -?\d+ s from this node's clock/);
  });

  it('remembers at most maxNonces, and none older than the window once a message is opened', () => {
    const clock = { now: T0 };
    const { b } = macs(clock, 3);
    expect(b.rememberedNonces).toBe(0);
    for (let i = 1; i <= 5; i++) {
      b.open('e', sealedAt(T0, nonce(i)));
      expect(b.rememberedNonces).toBe(Math.min(i, 3));
    }
    clock.now = T0 + WINDOW;
    b.open('e', sealedAt(clock.now, nonce(6))); // all still inside the window: the cap forgets one
    expect(b.rememberedNonces).toBe(3);
    clock.now = T0 + WINDOW + 1;
    b.open('e', sealedAt(clock.now, nonce(7))); // 3, 4, 5 are now past the window; 6 is not
    expect(b.rememberedNonces).toBe(2);
    const { b: uncapped } = macs();
    for (let i = 1; i <= 5; i++) uncapped.open('e', sealedAt(T0, nonce(i)));
    expect(uncapped.rememberedNonces).toBe(5);
  });

  it('at maxNonces, the oldest nonce is forgotten first (a replay of it is then only stopped by the window)', () => {
    const { b } = macs(undefined, 3);
    for (let i = 1; i <= 4; i++) b.open('e', sealedAt(T0, nonce(i)));
    // Holding 2, 3, 4: the 4th open forgot 1.
    expect(b.open('e', sealedAt(T0, nonce(1))).node).toBe('node-a');
    // That open forgot 2 and now holds 3, 4, 1: a replay of 4 is refused (the open forgets 3 first).
    expect(thrown(() => b.open('e', sealedAt(T0, nonce(4)))).message).toBe('a replayed cluster message from node node-a');
    // Without a cap given, 4 distinct nonces are all remembered.
    const { b: uncapped } = macs();
    for (let i = 1; i <= 4; i++) uncapped.open('e', sealedAt(T0, nonce(i)));
    expect(thrown(() => uncapped.open('e', sealedAt(T0, nonce(1)))).message).toBe('a replayed cluster message from node node-a');
  });
});

describe('ClusterMessageMac.tagText / verifyText', () => {
  it('is HMAC-SHA256 of the text in UTF-8, as 64 lower-case hex digits; anything else verifies false', () => {
    const { a, b } = macs();
    const text = 'fedtune:model:7\nünïcödé';
    const tag = a.tagText(text);
    expect(tag).toBe(createHmac('sha256', SECRET).update(Buffer.from(text, 'utf8')).digest('hex'));
    expect(b.verifyText(text, tag)).toBe(true);
    // Not text though it prints as the right tag: refused, not thrown.
    expect(b.verifyText(text, [tag] as unknown as string)).toBe(false);
    for (const bad of [undefined, 42 as unknown as string, '', `${tag}0`, tag.slice(0, 63), `x${tag.slice(1)}`, `${tag.slice(0, 63)}${tag[63] === '0' ? '1' : '0'}`, ` ${tag}`]) {
      expect(b.verifyText(text, bad), String(bad)).toBe(false);
    }
  });
});

describe('authenticateServerSideEmits', () => {
  function namespace() {
    const sent: unknown[][] = [];
    const delivered: unknown[][] = [];
    const nsp = {
      serverSideEmit: (event: string, ...args: unknown[]) => (sent.push([event, ...args]), sent.length % 2 === 1),
      _onServerSideEmit: (args: unknown[]) => void delivered.push(args),
    };
    return { nsp, sent, delivered };
  }

  it('seals the first argument for its event, drops the rest, and returns what the adapter returned', () => {
    const { a, b } = macs();
    const from = namespace();
    authenticateServerSideEmits(from.nsp, a, () => {});
    expect(from.nsp.serverSideEmit('fedtune:run-done', { node: 'node-a' }, 'ignored')).toBe(true);
    expect(from.nsp.serverSideEmit('fedtune:leader', 5)).toBe(false);
    expect(from.sent.map((s) => s.length)).toEqual([2, 2]);
    expect(b.open('fedtune:run-done', from.sent[0][1]).payload).toEqual({ node: 'node-a' });
    expect(b.open('fedtune:leader', from.sent[1][1]).payload).toBe(5);
  });

  it('delivers [event, payload] only; a refusal from the MAC goes to onRefused as it is, anything else thrown as unauthorized', () => {
    const to = namespace();
    const refused: FedtuneError[] = [];
    const throwing = (what: unknown) => ({ open: () => { throw what; } }) as unknown as ClusterMessageMac;
    const own = new FedtuneError('unauthorized', 'own reason');
    authenticateServerSideEmits(to.nsp, throwing(own), (e) => refused.push(e));
    to.nsp._onServerSideEmit(['e', {}]);
    const plain = namespace();
    authenticateServerSideEmits(plain.nsp, throwing(new Error('boom')), (e) => refused.push(e));
    plain.nsp._onServerSideEmit(['e', {}]);
    const text = namespace();
    authenticateServerSideEmits(text.nsp, throwing('z'.repeat(400)), (e) => refused.push(e));
    text.nsp._onServerSideEmit(['e', {}]);
    const nothing = namespace();
    authenticateServerSideEmits(nothing.nsp, throwing(null), (e) => refused.push(e));
    nothing.nsp._onServerSideEmit(['e', {}]);
    expect(refused[0]).toBe(own);
    expect(refused.slice(1).map((e) => [e instanceof FedtuneError, e.code, e.message])).toEqual([
      [true, 'unauthorized', 'boom'],
      [true, 'unauthorized', `${'z'.repeat(300)}… (100 more characters)`],
      [true, 'unauthorized', '(null)'],
    ]);
    expect([to.delivered, plain.delivered, text.delivered, nothing.delivered]).toEqual([[], [], [], []]);

    const { a, b } = macs();
    const ok = namespace();
    authenticateServerSideEmits(ok.nsp, b, (e) => refused.push(e));
    ok.nsp._onServerSideEmit(['fedtune:leader', a.seal('fedtune:leader', { node: 'node-a', token: 1 }), 'extra']);
    expect(ok.delivered).toEqual([['fedtune:leader', { node: 'node-a', token: 1 }]]);
    expect(refused).toHaveLength(4);
  });
});

describe('fencing tokens', () => {
  it('the highest token only grows; a plan or close below it is ignored and counted, one at or above it raises it', () => {
    const f = new FencingTokens();
    expect([f.highest, f.staleIgnored]).toEqual([0, 0]);
    f.observe(5);
    f.observe(3);
    expect(f.highest).toBe(5);
    expect(f.admit(4)).toBe(false);
    expect([f.highest, f.staleIgnored]).toEqual([5, 1]);
    expect(f.admit(5)).toBe(true);
    expect(f.staleIgnored).toBe(1);
    expect(f.admit(9)).toBe(true);
    expect(f.highest).toBe(9);
    f.observe(9);
    expect(f.admit(8)).toBe(false);
    expect(f.admit(1)).toBe(false);
    expect([f.highest, f.staleIgnored]).toEqual([9, 3]);
    f.observe(12);
    expect(f.highest).toBe(12);
    expect(MAX_FENCING_TOKEN).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("the leader refuses a record or partial whose token is not its own ('stale_leader', exact message)", () => {
    expect(() => checkFencingToken('a partial', 'node-b', 4, 4)).not.toThrow();
    for (const token of [3, 5]) {
      expect(thrown(() => checkFencingToken('a partial', 'node-b', token, 4))).toMatchObject({ code: 'stale_leader', message: `a partial of node node-b carries fencing token ${token}, not the leader's 4` });
    }
  });
});

/** One message schema at its edges: a valid message, then [path, value, accepted] (`undefined`: the key removed). */
type Edge = [Array<string | number>, unknown, boolean];
const SHA = 'a'.repeat(64);
const NODE_EDGES: (path: Array<string | number>) => Edge[] = (path) => [
  [path, 'n', true],
  [path, 'n'.repeat(64), true],
  [path, 'A.b_c-9', true],
  [path, '', false],
  [path, 'n'.repeat(65), false],
  [path, 'node a', false],
  [path, 'node/a', false],
  [path, undefined, false],
];
const TOKEN_EDGES: Edge[] = [
  [['token'], 1, true],
  [['token'], Number.MAX_SAFE_INTEGER, true],
  [['token'], 0, false],
  [['token'], 1.5, false],
  [['token'], Number.MAX_SAFE_INTEGER + 2, false],
  [['token'], '1', false],
  [['token'], undefined, false],
];
const strictEdge: Edge = [['extra'], 1, false];
const SITE_ID_EDGES = (path: Array<string | number>): Edge[] => [
  [path, 's'.repeat(128), true],
  [path, 's'.repeat(129), false],
  [path, '', false],
  [path, 'site a', false],
  [path, 'ü', false],
];
const SHA_EDGES = (path: Array<string | number>, optional = false): Edge[] => [
  [path, 'f'.repeat(64), true],
  [path, 'A'.repeat(64), false],
  [path, 'a'.repeat(63), false],
  [path, 'a'.repeat(65), false],
  [path, `${'a'.repeat(63)}g`, false],
  [path, undefined, optional],
];
const ROUND_EDGES = (key: string): Edge[] => [
  [[key], 1, true],
  [[key], 2 ** 31, true],
  [[key], 0, false],
  [[key], 2 ** 31 + 1, false],
  [[key], 2.5, false],
];
const RUN_ID_EDGES: Edge[] = [
  [['runId'], 'r'.repeat(256), true],
  [['runId'], 'r'.repeat(257), false],
  [['runId'], '', false],
];

const acceptance = {
  node: 'node-b', runId: 'run', round: 3, attempt: 1, token: 2, siteId: 'site-1', numExamples: 10, effectiveExamples: 10,
  norm: 0.5, metrics: { loss: 0.1, accuracy: 0.9 }, durationMs: 12, bytes: 400, sha256: SHA,
};
const plan = {
  node: 'node-a', runId: 'run', round: 3, attempt: 1, token: 2, modelVersion: 4, weightsSha256: SHA, weightsFrom: 'sha256',
  sites: [{ siteId: 'site-1', node: 'node-b', socket: 'sock', announced: 10 }], maxExamples: 100, maxUpdateBytes: 1000,
  exampleCap: null, streamBound: null,
};

const SCHEMAS: Array<[string, ZodType, unknown, Edge[]]> = [
  ['RelayMessage', RelayMessage, { node: 'node-b', socket: 'abc', event: 'fit_result', payload: { any: 'thing' } }, [
    ...NODE_EDGES(['node']),
    [['socket'], 's'.repeat(64), true], [['socket'], 's'.repeat(65), false], [['socket'], '', false],
    [['event'], 'e'.repeat(64), true], [['event'], 'e'.repeat(65), false], [['event'], '', false], [['event'], 1, false],
    [['payload'], null, true], [['payload'], undefined, false], // the key must be there, whatever it holds
    strictEdge,
  ]],
  ['RelayClosedMessage', RelayClosedMessage, { node: 'node-b', socket: 'abc', reason: 'transport close' }, [
    ...NODE_EDGES(['node']),
    [['socket'], '', false], [['socket'], 's'.repeat(65), false],
    [['reason'], '', true], [['reason'], 'r'.repeat(500), true], [['reason'], 'r'.repeat(501), false], [['reason'], undefined, false],
    strictEdge,
  ]],
  ['NodeAliveMessage', NodeAliveMessage, { node: 'node-b', sites: 3 }, [
    ...NODE_EDGES(['node']),
    [['sites'], 0, true], [['sites'], 10_000_000, true], [['sites'], 10_000_001, false], [['sites'], -1, false], [['sites'], 1.5, false],
    strictEdge,
  ]],
  ['LeaderMessage', LeaderMessage, { node: 'node-a', token: 3 }, [...NODE_EDGES(['node']), ...TOKEN_EDGES, strictEdge]],
  ['RunDoneMessage', RunDoneMessage, { node: 'node-a', token: 3, runId: 'run', status: 'completed' }, [
    ...NODE_EDGES(['node']), ...TOKEN_EDGES,
    [['runId'], 'r'.repeat(128), true], [['runId'], 'r'.repeat(129), false], [['runId'], '', false],
    [['status'], '', true], [['status'], 's'.repeat(32), true], [['status'], 's'.repeat(33), false],
    strictEdge,
  ]],
  ['ModelVersionMessage', ModelVersionMessage, { node: 'node-a', token: 3, version: 0, sha256: SHA }, [
    ...NODE_EDGES(['node']), ...TOKEN_EDGES, ...SHA_EDGES(['sha256']),
    [['version'], 2 ** 31 - 1, true], [['version'], 2 ** 31, false], [['version'], -1, false], [['version'], 0.5, false],
    strictEdge,
  ]],
  ['RoundPlanMessage', RoundPlanMessage, plan, [
    ...NODE_EDGES(['node']), ...TOKEN_EDGES, ...RUN_ID_EDGES, ...ROUND_EDGES('round'), ...ROUND_EDGES('attempt'),
    ...ROUND_EDGES('maxExamples'), ...ROUND_EDGES('maxUpdateBytes'), ...SHA_EDGES(['weightsSha256']),
    [['modelVersion'], 0, true], [['modelVersion'], 2 ** 31, true], [['modelVersion'], 2 ** 31 + 1, false], [['modelVersion'], -1, false],
    [['weightsFrom'], 'version', true], [['weightsFrom'], 'redis', false], [['weightsFrom'], undefined, false],
    [['sites'], [], true], [['sites'], undefined, false],
    ...SITE_ID_EDGES(['sites', 0, 'siteId']), ...NODE_EDGES(['sites', 0, 'node']),
    [['sites', 0, 'socket'], 's'.repeat(64), true], [['sites', 0, 'socket'], 's'.repeat(65), false], [['sites', 0, 'socket'], '', false],
    [['sites', 0, 'announced'], undefined, true], [['sites', 0, 'announced'], 0, true], [['sites', 0, 'announced'], 2 ** 31, true],
    [['sites', 0, 'announced'], 2 ** 31 + 1, false], [['sites', 0, 'announced'], -1, false], [['sites', 0, 'announced'], 0.5, false],
    [['sites', 0, 'extra'], 1, false],
    [['maxUpdateNorm'], 0.001, true], [['maxUpdateNorm'], 0, false], [['maxUpdateNorm'], Number.POSITIVE_INFINITY, false],
    [['updateEncoding'], 'int8', true], [['updateEncoding'], 'fp16', true], [['updateEncoding'], 'gzip', false],
    [['exampleCap'], 1, true], [['exampleCap'], 0, false], [['exampleCap'], undefined, false],
    [['streamBound'], 0, true], [['streamBound'], 2.5, true], [['streamBound'], -0.1, false], [['streamBound'], Number.POSITIVE_INFINITY, false], [['streamBound'], undefined, false],
    strictEdge,
  ]],
  ['RoundCloseMessage', RoundCloseMessage, { node: 'node-a', runId: 'run', round: 3, attempt: 2, token: 5 }, [
    ...NODE_EDGES(['node']), ...TOKEN_EDGES, ...RUN_ID_EDGES, ...ROUND_EDGES('round'), ...ROUND_EDGES('attempt'), strictEdge,
  ]],
  ['SiteAcceptanceMessage', SiteAcceptanceMessage, acceptance, [
    ...NODE_EDGES(['node']), ...TOKEN_EDGES, ...RUN_ID_EDGES, ...ROUND_EDGES('round'), ...ROUND_EDGES('attempt'),
    ...ROUND_EDGES('numExamples'), ...ROUND_EDGES('effectiveExamples'), ...SITE_ID_EDGES(['siteId']), ...SHA_EDGES(['sha256'], true),
    [['norm'], 0, true], [['norm'], -1e-9, false], [['norm'], Number.POSITIVE_INFINITY, false], [['norm'], Number.NaN, false],
    [['metrics'], { loss: 0.1 }, false], [['metrics', 'accuracy'], 1.5, false],
    [['durationMs'], 0, true], [['durationMs'], 7 * 24 * 3_600_000, true], [['durationMs'], 7 * 24 * 3_600_000 + 1, false], [['durationMs'], -1, false],
    [['bytes'], 0, true], [['bytes'], 2 ** 31, true], [['bytes'], 2 ** 31 + 1, false], [['bytes'], -1, false], [['bytes'], 1.5, false],
    strictEdge,
  ]],
  ['PartialMessage', PartialMessage, { node: 'node-b', runId: 'run', round: 3, attempt: 1, token: 2, partial: { sums: [] } }, [
    ...NODE_EDGES(['node']), ...TOKEN_EDGES, ...RUN_ID_EDGES, ...ROUND_EDGES('round'), ...ROUND_EDGES('attempt'),
    [['partial'], null, true], [['partial'], undefined, false], strictEdge,
  ]],
  ['SiteAcceptanceBatchMessage', SiteAcceptanceBatchMessage, { node: 'node-b', records: [acceptance] }, [
    ...NODE_EDGES(['node']),
    [['records'], [], false], [['records'], new Array(MAX_RECORDS_PER_BATCH).fill(1), true], [['records'], new Array(MAX_RECORDS_PER_BATCH + 1).fill(1), false],
    [['records'], 'x', false], [['records'], undefined, false],
    strictEdge,
  ]],
  ['SiteSendsMessage', SiteSendsMessage, { node: 'node-a', to: 'node-b', sends: [{ socket: 'sock', event: 'fit', payload: { w: 1 } }] }, [
    ...NODE_EDGES(['node']), ...NODE_EDGES(['to']),
    [['sends'], [], false], [['sends'], new Array(MAX_SENDS_PER_MESSAGE).fill({ socket: 's', event: 'e', payload: 0 }), true],
    [['sends'], new Array(MAX_SENDS_PER_MESSAGE + 1).fill({ socket: 's', event: 'e', payload: 0 }), false],
    [['sends', 0, 'socket'], 's'.repeat(64), true], [['sends', 0, 'socket'], 's'.repeat(65), false], [['sends', 0, 'socket'], '', false],
    [['sends', 0, 'event'], 'e'.repeat(64), true], [['sends', 0, 'event'], 'e'.repeat(65), false], [['sends', 0, 'event'], '', false],
    [['sends', 0, 'payload'], null, true], [['sends', 0, 'payload'], undefined, false], [['sends', 0, 'extra'], 1, false],
    strictEdge,
  ]],
  ['EvaluationRequestMessage', EvaluationRequestMessage, { node: 'node-a', token: 2, to: 'node-b', id: 1, sha256: SHA }, [
    ...NODE_EDGES(['node']), ...NODE_EDGES(['to']), ...TOKEN_EDGES, ...SHA_EDGES(['sha256']),
    [['id'], Number.MAX_SAFE_INTEGER, true], [['id'], 0, false], [['id'], 1.5, false], [['id'], Number.MAX_SAFE_INTEGER + 2, false],
    strictEdge,
  ]],
  ['EvaluationResultMessage', EvaluationResultMessage, { node: 'node-b', to: 'node-a', id: 1, sha256: SHA, metrics: { accuracy: 0.5, loss: 1 } }, [
    ...NODE_EDGES(['node']), ...NODE_EDGES(['to']), ...SHA_EDGES(['sha256']),
    [['id'], 0, false], [['id'], Number.MAX_SAFE_INTEGER, true],
    [['metrics', 'accuracy'], 0, true], [['metrics', 'accuracy'], 1, true], [['metrics', 'accuracy'], -0.01, false], [['metrics', 'accuracy'], 1.01, false],
    [['metrics', 'loss'], 0, true], [['metrics', 'loss'], 1e9, true], [['metrics', 'loss'], 1e9 + 1, false], [['metrics', 'loss'], -1, false],
    [['metrics', 'loss'], Number.NaN, false], [['metrics', 'extra'], 1, false],
    // Either metrics or an error, never both, never neither.
    [['metrics'], undefined, false],
    [['error'], 'no holdout', false],
    strictEdge,
  ]],
];

describe('inter-node message schemas at their edges', () => {
  const show = (value: unknown): string => {
    if (Array.isArray(value)) return `[${value.length} items]`;
    if (typeof value === 'string') return value.length > 12 ? `"${value.slice(0, 8)}…" (${value.length})` : JSON.stringify(value);
    return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  };
  const cases = SCHEMAS.flatMap(([name, schema, base, edges]) => [
    { name, what: 'the valid message', message: base, ok: true, schema },
    ...edges.map(([path, value, ok]) => ({ name, what: `${path.join('.')} = ${show(value)}`, message: withValue(base, path, value), ok, schema })),
  ]);
  it.each(cases)('$name: $what → accepted $ok', ({ schema, message, ok }) => {
    const parsed = schema.safeParse(message);
    expect(parsed.success, parsed.success ? 'accepted' : JSON.stringify(parsed.error.issues.slice(0, 3).map((i) => [i.path.join('.'), i.message]))).toBe(ok);
  });

  it('an evaluation result with an error and no metrics is accepted, the error at most 500 characters', () => {
    const failed = { node: 'node-b', to: 'node-a', id: 1, sha256: SHA, error: 'e'.repeat(500) };
    expect(EvaluationResultMessage.safeParse(failed).success).toBe(true);
    expect(EvaluationResultMessage.safeParse({ ...failed, error: 'e'.repeat(501) }).success).toBe(false);
    const both = EvaluationResultMessage.safeParse({ ...failed, metrics: { accuracy: 1, loss: 0 } });
    expect(both.success ? '' : both.error.issues[0].message).toBe('an evaluation result has either metrics or an error');
  });

  it('a plan lists at most MAX_PLAN_SITES sites', () => {
    const site = plan.sites[0];
    expect(RoundPlanMessage.safeParse({ ...plan, sites: new Array(MAX_PLAN_SITES).fill(site) }).success).toBe(true);
    expect(RoundPlanMessage.safeParse({ ...plan, sites: new Array(MAX_PLAN_SITES + 1).fill(site) }).success).toBe(false);
    expect(MAX_PLAN_SITES).toBe(100_000);
  });

  it('names every inter-node event once, all under fedtune:', () => {
    const names = Object.values(CLUSTER_EVENTS);
    expect(new Set(names).size).toBe(names.length);
    expect(CLUSTER_EVENTS).toEqual({
      relay: 'fedtune:relay', relayClosed: 'fedtune:relay-closed', nodeAlive: 'fedtune:node-alive', leader: 'fedtune:leader',
      runDone: 'fedtune:run-done', modelVersion: 'fedtune:model-version', roundPlan: 'fedtune:round-plan', roundClose: 'fedtune:round-close',
      siteAccepted: 'fedtune:site-accepted', siteAcceptedBatch: 'fedtune:site-accepted-batch', siteSends: 'fedtune:site-sends',
      partial: 'fedtune:partial', evaluationRequest: 'fedtune:evaluation-request', evaluationResult: 'fedtune:evaluation-result',
    });
    expect([MAX_RECORDS_PER_BATCH, MAX_SENDS_PER_MESSAGE]).toEqual([256, 256]);
  });
});
