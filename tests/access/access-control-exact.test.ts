// Who may join and who may drive the control plane, at the edges: the salted token hashes, both token stores,
// the bearer parser, the admin guard, the hello authorizer with its two limits, and the token bucket under them.
// Fast and exact (no coordinator, no CLI): the access-control mutation module runs these.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AdminTokenStore,
  adminGuard,
  bearerToken,
  DEFAULT_API_RATE_LIMIT,
  DEFAULT_HELLOS_PER_MINUTE,
  helloRateLimit,
  isLoopbackHost,
  RateLimiter,
  RATE_LIMITED_REFUSALS_TOLD,
  siteAuthorizer,
  SiteTokenStore,
  type HelloRefusal,
} from '@fedtune/coordinator';
import { newSaltedToken, openTokenDatabase, saltedTokenMatches } from '../../coordinator/src/access/salted-token.ts';
import { hostName } from '../../coordinator/src/access/admin-guard.ts';
import { FedtuneError, type Hello, type SiteLink } from '@fedtune/shared';
import { tempDir } from '../helpers/federation.ts';
import { thrown } from '../helpers/thrown.ts';

/** What `fn` throws, whatever it is. */
function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('salted token', () => {
  it('is 32 random bytes in base64url, stored as sha-256 over a 16-byte salt then the token', () => {
    const a = newSaltedToken();
    const b = newSaltedToken();
    expect(a.token).toMatch(TOKEN);
    expect(Buffer.from(a.token, 'base64url')).toHaveLength(32);
    expect(a.salt).toHaveLength(16);
    expect(a.hash).toEqual(createHash('sha256').update(a.salt).update(a.token, 'utf8').digest());
    expect(b.token).not.toBe(a.token);
    expect(b.salt.equals(a.salt)).toBe(false);
  });

  it('matches only the token it was made from, and never throws on a stored hash of another length', () => {
    const { token, salt, hash } = newSaltedToken();
    expect(saltedTokenMatches(salt, hash, token)).toBe(true);
    expect(saltedTokenMatches(salt, hash, `${token}x`)).toBe(false);
    expect(saltedTokenMatches(salt, hash, token.slice(1))).toBe(false);
    expect(saltedTokenMatches(Buffer.alloc(16), hash, token)).toBe(false); // another salt
    expect(saltedTokenMatches(salt, hash.subarray(0, 31), token)).toBe(false);
    expect(saltedTokenMatches(salt, Buffer.concat([hash, Buffer.alloc(1)]), token)).toBe(false);
    // The token is hashed as UTF-8.
    const s = Buffer.from('salt');
    const utf8 = createHash('sha256').update(s).update(Buffer.from('jeton-é', 'utf8')).digest();
    expect(saltedTokenMatches(s, utf8, 'jeton-é')).toBe(true);
  });

  it('opens its database in WAL mode with a 5 s busy timeout, creating the folder; :memory: needs none', () => {
    const path = join(tempDir(), 'a', 'b', 'fedtune.db');
    const db = openTokenDatabase(path, 'CREATE TABLE IF NOT EXISTS t (x INTEGER)');
    expect(existsSync(path)).toBe(true);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
    db.close();
    const memory = openTokenDatabase(':memory:', 'CREATE TABLE t (x INTEGER)');
    expect(memory.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
    memory.close();
  });
});

describe('SiteTokenStore at its edges', () => {
  it('takes exactly the names a hello may claim', () => {
    const store = new SiteTokenStore(':memory:');
    for (const name of ['A', 'z', '0', '9', '.', '_', '-', 'Site_1.b-2', 'x'.repeat(128)]) expect(store.add(name), name).toMatch(TOKEN);
    for (const name of ['', 'x'.repeat(129), 'a b', ' a', 'a ', 'a/b', 'é', 'a\n', '\na', 'a:b', 'a@b']) {
      const error = thrown(() => store.add(name));
      expect(error, JSON.stringify(name)).toBeInstanceOf(FedtuneError);
      expect((error as FedtuneError).code).toBe('config');
      expect((error as Error).message).toBe(`invalid site name ${JSON.stringify(name)}: use 1–128 letters, digits, ".", "_" or "-"`);
    }
    expect(store.size).toBe(9);
    store.close();
  });

  it('refuses to replace an active registration with the exact reason, and resets a rotated or re-added one', () => {
    const store = new SiteTokenStore(':memory:');
    const first = store.add('s');
    const error = thrown(() => store.add('s', { rotate: false }));
    expect((error as FedtuneError).code).toBe('config');
    expect((error as Error).message).toBe('site s is already registered; revoke it first, or rotate its token (--rotate)');
    expect(store.verify('s', first)).toEqual({ ok: true });
    expect(store.list()[0].lastUsedAt).toMatch(ISO);
    const rotated = store.add('s', { rotate: true });
    expect(store.list()).toEqual([{ name: 's', createdAt: expect.stringMatching(ISO), revokedAt: undefined, lastUsedAt: undefined }]);
    expect(store.verify('s', first)).toEqual({ ok: false, reason: 'invalid token' });
    expect(store.revoke('s')).toBe(true);
    expect(store.list()[0].revokedAt).toMatch(ISO);
    const again = store.add('s');
    expect(store.list()[0]).toEqual({ name: 's', createdAt: expect.stringMatching(ISO), revokedAt: undefined, lastUsedAt: undefined });
    expect(store.verify('s', again)).toEqual({ ok: true });
    expect(store.verify('s', rotated)).toEqual({ ok: false, reason: 'invalid token' });
    expect(store.size).toBe(1);
    store.close();
  });

  it('checks in order: a token at all, a known name, the right token, not revoked; only a success is recorded', () => {
    const store = new SiteTokenStore(':memory:');
    const token = store.add('s');
    expect(store.verify('s', '')).toEqual({ ok: false, reason: 'token required' });
    expect(store.verify('s', undefined)).toEqual({ ok: false, reason: 'token required' });
    expect(store.verify('nobody', undefined)).toEqual({ ok: false, reason: 'token required' });
    expect(store.verify('nobody', token)).toEqual({ ok: false, reason: 'unknown site' });
    expect(store.verify('S', token)).toEqual({ ok: false, reason: 'unknown site' });
    expect(store.verify('s', `${token} `)).toEqual({ ok: false, reason: 'invalid token' });
    expect(store.list()[0].lastUsedAt).toBeUndefined(); // failures are not a use
    store.revoke('s');
    expect(store.verify('s', 'wrong')).toEqual({ ok: false, reason: 'invalid token' }); // a wrong token learns nothing about revocation
    expect(store.verify('s', token)).toEqual({ ok: false, reason: 'token revoked' });
    expect(store.list()[0].lastUsedAt).toBeUndefined();
    expect(store.revoke('s')).toBe(false);
    expect(store.revoke('nobody')).toBe(false);
    store.close();
    expect(() => store.size).toThrow(/not open/); // close really closes the database
  });

  it('stores the scheme, salt and hash only; lists sorted by name with exactly four fields', () => {
    const store = new SiteTokenStore(':memory:');
    const b = store.add('b');
    store.add('a');
    const rows = store.db.prepare('SELECT name, scheme, length(salt) AS salt, length(hash) AS hash FROM site_tokens ORDER BY name').all();
    expect(rows).toEqual([
      { name: 'a', scheme: 'sha256-salted', salt: 16, hash: 32 },
      { name: 'b', scheme: 'sha256-salted', salt: 16, hash: 32 },
    ]);
    store.verify('b', b);
    const listed = store.list();
    expect(listed.map((r) => r.name)).toEqual(['a', 'b']);
    expect(Object.keys(listed[0]).sort()).toEqual(['createdAt', 'lastUsedAt', 'name', 'revokedAt']);
    expect(listed[0]).toEqual({ name: 'a', createdAt: expect.stringMatching(ISO), revokedAt: undefined, lastUsedAt: undefined });
    expect(listed[1].lastUsedAt).toMatch(ISO);
    store.close();
  });
});

describe('AdminTokenStore at its edges', () => {
  it('one token at a time: create, exists, rotate, revoke — with when it was made and last used', () => {
    const store = new AdminTokenStore(':memory:');
    expect(store.info()).toBeUndefined();
    expect(store.verify('anything')).toEqual({ ok: false, reason: 'no admin token' });
    expect(store.verify(undefined)).toEqual({ ok: false, reason: 'no admin token' });
    expect(store.revoke()).toBe(false);
    const made = store.create();
    if (!('token' in made)) throw new Error('expected a token');
    expect(made.token).toMatch(TOKEN);
    expect(store.info()).toEqual({ createdAt: expect.stringMatching(ISO), lastUsedAt: undefined });
    expect(store.create()).toEqual({ exists: { createdAt: expect.stringMatching(ISO), lastUsedAt: undefined } });
    expect(store.create({ rotate: false })).toHaveProperty('exists');
    expect(store.verify(made.token)).toEqual({ ok: true });
    expect(store.info()?.lastUsedAt).toMatch(ISO);
    const rotated = store.create({ rotate: true });
    if (!('token' in rotated)) throw new Error('expected a rotated token');
    expect(rotated.token).not.toBe(made.token);
    expect(store.info()?.lastUsedAt).toBeUndefined(); // a new token has not been used
    expect(store.verify(made.token)).toEqual({ ok: false, reason: 'invalid token' });
    expect(store.verify('')).toEqual({ ok: false, reason: 'token required' });
    expect(store.verify(undefined)).toEqual({ ok: false, reason: 'token required' });
    expect(store.info()?.lastUsedAt).toBeUndefined(); // failures are not a use
    expect(store.db.prepare('SELECT id, scheme, length(salt) AS salt, length(hash) AS hash FROM admin_token').all()).toEqual([{ id: 1, scheme: 'sha256-salted', salt: 16, hash: 32 }]);
    expect(store.revoke()).toBe(true);
    expect(store.info()).toBeUndefined();
    expect(store.verify(rotated.token)).toEqual({ ok: false, reason: 'no admin token' });
    store.close();
    expect(() => store.info()).toThrow(/not open/); // close really closes the database
  });
});

describe('bearerToken', () => {
  it.each([
    [undefined, undefined],
    ['', undefined],
    ['Bearer', undefined],
    ['Bearer ', undefined],
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['BEARER abc', 'abc'],
    ['  Bearer abc \t', 'abc'],
    ['Bearer  abc', undefined], // two spaces
    ['Bearer ab c', undefined],
    ['Bearer abc\u00e9', undefined],
    ['Bearer \x7f', undefined],
    ['Bearer !~', '!~'],
    ['Basic abc', undefined],
    ['xBearer abc', undefined],
    ['Bearerabc', undefined],
    [`Bearer ${'t'.repeat(512)}`, 't'.repeat(512)],
    [`Bearer ${'t'.repeat(513)}`, undefined],
  ])('%j → %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('adminGuard', () => {
  const withToken = () => {
    const store = new AdminTokenStore(':memory:');
    const made = store.create();
    if (!('token' in made)) throw new Error('expected a token');
    return { store, token: made.token };
  };

  it('lets everyone through while no token is required, without opening the store', () => {
    let opened = 0;
    const guard = adminGuard({ store: () => { opened++; return new AdminTokenStore(':memory:'); }, required: () => false });
    expect(guard.check(undefined)).toEqual({ ok: true });
    expect(guard.check('Bearer wrong')).toEqual({ ok: true });
    expect(guard.required()).toBe(false);
    expect(opened).toBe(0);
  });

  it('asks whether a token is required at every check', () => {
    const { store, token } = withToken();
    let required = false;
    const guard = adminGuard({ store: () => store, required: () => required });
    expect(guard.check(undefined).ok).toBe(true);
    required = true;
    expect(guard.required()).toBe(true);
    expect(guard.check(undefined).ok).toBe(false);
    expect(guard.check(`Bearer ${token}`)).toEqual({ ok: true });
    expect(guard.check(` bearer ${token} `)).toEqual({ ok: true });
    store.close();
  });

  it('refuses with one message per reason, naming the command that makes a token', () => {
    const empty = new AdminTokenStore(':memory:');
    const named = adminGuard({ store: () => empty, required: () => true, createCommand: 'fedtune admin-token --db X' });
    expect(named.check('Bearer whatever')).toEqual({
      ok: false,
      message: "this coordinator's control plane needs an admin token and none was created: run `fedtune admin-token --db X` on the coordinator, then send Authorization: Bearer TOKEN",
    });
    const { store } = withToken();
    const plain = adminGuard({ store: () => store, required: () => true });
    const required = { ok: false, message: 'admin token required: send Authorization: Bearer TOKEN (the token printed by `fedtune admin-token`)' };
    const invalid = { ok: false, message: 'invalid admin token: send the token printed by `fedtune admin-token` (or make a new one with --rotate)' };
    expect(plain.check(undefined)).toEqual(required);
    expect(plain.check('Basic abc')).toEqual(required);
    expect(plain.check(`Bearer ${'t'.repeat(513)}`)).toEqual(required);
    expect(plain.check(`Bearer ${'t'.repeat(512)}`)).toEqual(invalid);
    expect(plain.check('Bearer wrong')).toEqual(invalid);
    empty.close();
    store.close();
  });
});

describe("hostName: a Host header's name", () => {
  it.each([
    ['localhost:8080', 'localhost'],
    ['localhost', 'localhost'],
    [' LOCALHOST:8080 ', 'localhost'],
    ['Example.ORG', 'example.org'],
    ['[::1]:8080', '::1'],
    ['[::1]', '::1'],
    ['[::1', '[::1'],
    ['[]', ''],
    ['', ''],
  ])('%j → %j', (host, name) => {
    expect(hostName(host)).toBe(name);
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    [' LocalHost ', true],
    ['127.0.0.1', true],
    ['127.255.255.254', true],
    ['::1', true],
    ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['[::FFFF:127.1.2.3]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['[::]', false],
    ['128.0.0.1', false],
    ['10.127.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['::2', false],
    ['1::1', false],
    ['127.0.0.1.example.org', false],
    ['localhost.example.org', false],
    ['mylocalhost', false],
    ['[127.0.0.1]x', false],
    ['1::ffff:127.0.0.1', false],
    ['::[1]', false],
    ['[::]1', false],
    ['::ffff:127.0.0.1.example.org', false],
    ['', false],
  ])('%j → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('RateLimiter at its edges', () => {
  it('refuses a limit without a positive rate or a whole-token burst, with one message', () => {
    for (const limit of [{ ratePerSecond: 0, burst: 1 }, { ratePerSecond: -1, burst: 1 }, { ratePerSecond: NaN, burst: 1 }, { ratePerSecond: 1, burst: 0.999 }, { ratePerSecond: 1, burst: NaN }]) {
      const error = caught(() => new RateLimiter(limit));
      expect(error, JSON.stringify(limit)).toBeInstanceOf(RangeError);
      expect((error as Error).message).toBe(`rate limit needs ratePerSecond > 0 and burst ≥ 1, got ${JSON.stringify(limit)}`);
    }
    expect(new RateLimiter({ ratePerSecond: 0.001, burst: 1 }).take('k')).toEqual({ ok: true });
  });

  it('refills in proportion to the time passed, capped at the burst; a refusal says when a token is back (rounded up)', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 3, burst: 2 }, () => now);
    expect(limiter.take('k')).toEqual({ ok: true });
    expect(limiter.take('k')).toEqual({ ok: true });
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterMs: 334 }); // 1/3 s
    now = 100; // 0.3 tokens
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterMs: 234 });
    now = 200; // a refusal takes nothing: 0.6
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterMs: 134 });
    now = 334; // 1.002
    expect(limiter.take('k')).toEqual({ ok: true });
    expect(limiter.take('k')).toEqual({ ok: false, retryAfterMs: 333 });
    now = 100_000; // full, never beyond the burst
    expect([1, 2, 3].map(() => limiter.take('k').ok)).toEqual([true, true, false]);
  });

  it('sweeps full buckets at most once per max(1 s, time to fill), dropping those full by then', () => {
    let now = 0;
    const fast = new RateLimiter({ ratePerSecond: 100, burst: 1 }, () => now); // full after 10 ms
    fast.take('a');
    now = 999;
    fast.take('b');
    expect(fast.size).toBe(2); // no sweep before 1 s
    now = 1000;
    fast.take('c');
    expect(fast.size).toBe(2); // 'a' dropped; 'b' (1 ms ago) kept

    now = 0;
    const slow = new RateLimiter({ ratePerSecond: 1, burst: 5 }, () => now); // full after 5 s
    slow.take('a');
    now = 4999;
    slow.take('b');
    expect(slow.size).toBe(2);
    now = 5000;
    slow.take('c');
    expect(slow.size).toBe(2); // 'a' is exactly full: dropped; 'b' kept
    now = 9999;
    slow.take('d');
    expect(slow.size).toBe(3); // 'b' is full now, but the last sweep was < 5 s ago
    now = 10_000;
    slow.take('e');
    expect(slow.size).toBe(2); // 5 s since the last sweep: 'b' and 'c' dropped, 'd' (1 ms ago) and 'e' left
  });

  it('at maxKeys, a new key evicts the oldest; a known key evicts nothing', () => {
    const limiter = new RateLimiter({ ratePerSecond: 0.001, burst: 1 }, () => 0, 2);
    limiter.take('a');
    limiter.take('b');
    expect(limiter.size).toBe(2);
    expect(limiter.take('b')).toEqual({ ok: false, retryAfterMs: 1_000_000 });
    expect(limiter.size).toBe(2);
    expect(limiter.take('a').ok).toBe(false); // still tracked: nothing was evicted by 'b'
    limiter.take('c'); // evicts 'a', the oldest
    expect(limiter.size).toBe(2);
    expect(limiter.take('b').ok).toBe(false);
    expect(limiter.take('a').ok).toBe(true); // a fresh bucket (evicting 'b')
    expect(limiter.take('b').ok).toBe(true);
  });

  it('with maxKeys 0 there is nothing to evict, and each key is still limited', () => {
    const limiter = new RateLimiter({ ratePerSecond: 0.001, burst: 1 }, () => 0, 0);
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
    expect(limiter.size).toBe(1);
  });

  it('defaults: the API 50/s in bursts of 100; hellos 30 a minute, the same as the burst', () => {
    expect(DEFAULT_API_RATE_LIMIT).toEqual({ ratePerSecond: 50, burst: 100 });
    expect(DEFAULT_HELLOS_PER_MINUTE).toBe(30);
    expect(helloRateLimit(30)).toEqual({ ratePerSecond: 0.5, burst: 30 });
    expect(helloRateLimit(6)).toEqual({ ratePerSecond: 0.1, burst: 6 });
  });
});

describe('siteAuthorizer', () => {
  const hello = (siteId: string, token?: string) => ({ siteId, token }) as unknown as Hello;
  const link = (id: string) => ({ id }) as unknown as SiteLink;
  const registry = (...names: string[]) => {
    const store = new SiteTokenStore(':memory:');
    const tokens = Object.fromEntries(names.map((n) => [n, store.add(n)]));
    return { store, tokens };
  };

  it('requires tokens once the registry holds a site (revoked ones count), unless told otherwise', () => {
    const store = new SiteTokenStore(':memory:');
    const open = siteAuthorizer({ store });
    expect(open(hello('x'), link('1'))).toEqual({ ok: true, authenticated: false });
    const token = store.add('s');
    expect(open(hello('x'), link('1'))).toMatchObject({ ok: false, code: 'unauthorized' });
    expect(open(hello('s', token), link('1'))).toEqual({ ok: true, authenticated: true });
    store.revoke('s');
    expect(open(hello('x'), link('1'))).toMatchObject({ ok: false });
    expect(siteAuthorizer({ store, requireTokens: false })(hello('x', 'bad'), link('1'))).toEqual({ ok: true, authenticated: false });
    const empty = new SiteTokenStore(':memory:');
    expect(siteAuthorizer({ store: empty, requireTokens: true })(hello('x', 'bad'), link('1'))).toMatchObject({ ok: false, code: 'unauthorized' });
    store.close();
    empty.close();
  });

  it('says why, with a hint where the operator can act', () => {
    const { store, tokens } = registry('s', 'r');
    store.revoke('r');
    const authorize = siteAuthorizer({ store, hellosPerMinute: false });
    expect(authorize(hello('s'), link('1'))).toEqual({ ok: false, code: 'unauthorized', reason: 'site s refused: token required (this coordinator requires site tokens: pass --token)' });
    // An unknown name and a wrong token are told in the same words (else anyone could list the registered names);
    // the coordinator's log (onRefusal) says which.
    expect(authorize(hello('n', tokens.s), link('1'))).toEqual({ ok: false, code: 'unauthorized', reason: 'site n refused: unknown site or invalid token (a site is registered with `fedtune sites add NAME` on the coordinator, which prints its token once)' });
    expect(authorize(hello('s', tokens.r), link('1'))).toEqual({ ok: false, code: 'unauthorized', reason: 'site s refused: unknown site or invalid token (a site is registered with `fedtune sites add NAME` on the coordinator, which prints its token once)' });
    const told: string[] = [];
    const logged = siteAuthorizer({ store, hellosPerMinute: false, onRefusal: (r) => told.push(r.reason) });
    logged(hello('n', tokens.s), link('1'));
    logged(hello('s', tokens.r), link('1'));
    expect(told).toEqual(['site n refused: unknown site (register it with `fedtune sites add NAME` on the coordinator)', 'site s refused: invalid token']);
    expect(authorize(hello('r', tokens.r), link('1'))).toEqual({ ok: false, code: 'unauthorized', reason: 'site r refused: token revoked' });
    store.close();
  });

  it('tells onRefusal about each refusal, clipped (name 128, address 64), and nothing about a join', () => {
    const { store, tokens } = registry('s');
    const refusals: HelloRefusal[] = [];
    const longName = 'n'.repeat(600);
    const longAddress = 'a'.repeat(100);
    const authorize = siteAuthorizer({ store, hellosPerMinute: false, addressOf: (l) => (l.id === 'far' ? longAddress : undefined), onRefusal: (r) => refusals.push(r) });
    authorize(hello('s', tokens.s), link('far'));
    expect(refusals).toEqual([]);
    authorize(hello(longName, 'bad'), link('far'));
    authorize(hello('s', 'bad'), link('near'));
    expect(refusals).toHaveLength(2);
    expect(refusals[0].siteId).toBe(`${'n'.repeat(128)}… (472 more characters)`);
    expect(refusals[0].address).toBe(`${'a'.repeat(64)}… (36 more characters)`);
    expect(refusals[0].code).toBe('unauthorized');
    expect(refusals[0].reason).toBe(`site ${'n'.repeat(295)}… (390 more characters)`); // the reason is clipped too, to 300
    expect(refusals[1]).toEqual({ siteId: 's', address: undefined, code: 'unauthorized', reason: 'site s refused: invalid token' });
    store.close();
  });

  it('limits failed attempts per address, and says when to retry (seconds, rounded up)', () => {
    const { store } = registry('s');
    const refusals: HelloRefusal[] = [];
    const authorize = siteAuthorizer({ store, hellosPerMinute: 7, addressOf: (l) => l.id, now: () => 0, onRefusal: (r) => refusals.push(r) });
    for (let i = 0; i < 7; i++) expect(authorize(hello(`n${i}`, 'bad'), link('10.0.0.1')), String(i)).toMatchObject({ code: 'unauthorized' });
    // 7 a minute: a token is back 60/7 = 8.57 s after the bucket empties.
    expect(authorize(hello('n7', 'bad'), link('10.0.0.1'))).toEqual({ ok: false, code: 'rate_limited', reason: 'too many join attempts from 10.0.0.1; retry in 9 s' });
    expect(refusals.at(-1)).toEqual({ siteId: 'n7', address: '10.0.0.1', code: 'rate_limited', reason: 'too many join attempts from 10.0.0.1; retry in 9 s' });
    expect(authorize(hello('n8', 'bad'), link('10.0.0.2'))).toMatchObject({ code: 'unauthorized' }); // another address
    store.close();
  });

  it('tells onRefusal every bad token, and of the rate-limited refusals the first per address or name a minute', () => {
    expect(RATE_LIMITED_REFUSALS_TOLD).toEqual({ ratePerSecond: 1 / 60, burst: 1 });
    const { store } = registry('s');
    const refusals: HelloRefusal[] = [];
    let t = 0;
    const authorize = siteAuthorizer({ store, hellosPerMinute: 2, addressOf: (l) => l.id, now: () => t, onRefusal: (r) => refusals.push(r) });
    const told = () => refusals.map((r) => `${r.siteId} ${r.code}`);
    authorize(hello('a', 'bad'), link('10.0.0.1'));
    authorize(hello('b', 'bad'), link('10.0.0.1'));
    // Past the address's limit: 50 refusals, one told.
    for (let i = 0; i < 50; i++) expect(authorize(hello(`c${i}`, 'bad'), link('10.0.0.1'))).toMatchObject({ code: 'rate_limited' });
    expect(told()).toEqual(['a unauthorized', 'b unauthorized', 'c0 rate_limited']);
    // Another address's first rate-limited refusal is told too (its own key), and a name's apart from an address's.
    authorize(hello('d', 'bad'), link('10.0.0.2'));
    authorize(hello('e', 'bad'), link('10.0.0.2'));
    authorize(hello('f', 'bad'), link('10.0.0.2'));
    authorize(hello('f', 'bad'), link('10.0.0.2'));
    expect(told().slice(3)).toEqual(['d unauthorized', 'e unauthorized', 'f rate_limited']);
    authorize(hello('v', 'bad'), link('10.0.1.1'));
    authorize(hello('v', 'bad'), link('10.0.1.2'));
    authorize(hello('v', 'bad'), link('10.0.1.3'));
    authorize(hello('v', 'bad'), link('10.0.1.4'));
    expect(told().slice(6)).toEqual(['v unauthorized', 'v unauthorized', 'v rate_limited']);
    // Another name limited by name (from fresh addresses) is told too: each name is its own key.
    authorize(hello('w', 'bad'), link('10.0.2.1'));
    authorize(hello('w', 'bad'), link('10.0.2.2'));
    authorize(hello('w', 'bad'), link('10.0.2.3'));
    expect(told().slice(9)).toEqual(['w unauthorized', 'w unauthorized', 'w rate_limited']);
    refusals.splice(9);
    // 31 s later a hello token is back (2 a minute), then the address is limited again: not told before 60 s.
    t = 31_000;
    expect(authorize(hello('g', 'bad'), link('10.0.0.1'))).toMatchObject({ code: 'unauthorized' });
    expect(authorize(hello('h', 'bad'), link('10.0.0.1'))).toMatchObject({ code: 'rate_limited' });
    t = 59_999;
    expect(authorize(hello('i', 'bad'), link('10.0.0.1'))).toMatchObject({ code: 'rate_limited' });
    expect(told().slice(9)).toEqual(['g unauthorized']);
    t = 61_000;
    expect(authorize(hello('j', 'bad'), link('10.0.0.1'))).toMatchObject({ code: 'unauthorized' });
    expect(authorize(hello('k', 'bad'), link('10.0.0.1'))).toMatchObject({ code: 'rate_limited' });
    expect(authorize(hello('l', 'bad'), link('10.0.0.1'))).toMatchObject({ code: 'rate_limited' });
    expect(told().slice(10)).toEqual(['j unauthorized', 'k rate_limited']);
    store.close();
  });

  it('limits failed attempts per claimed name across addresses, and charges both buckets', () => {
    const { store, tokens } = registry('s');
    const authorize = siteAuthorizer({ store, hellosPerMinute: 3, addressOf: (l) => l.id, now: () => 0 });
    for (const address of ['a1', 'a2', 'a3']) expect(authorize(hello('victim', 'bad'), link(address))).toMatchObject({ code: 'unauthorized' });
    expect(authorize(hello('victim', 'bad'), link('a4'))).toEqual({ ok: false, code: 'rate_limited', reason: 'too many join attempts as victim; retry in 20 s' });
    // Address b is used up by three names; its fourth attempt (name m) is refused by address, yet m's bucket is charged.
    for (const name of ['x', 'y', 'z']) authorize(hello(name, 'bad'), link('b'));
    expect(authorize(hello('m', 'bad'), link('b'))).toMatchObject({ code: 'rate_limited', reason: expect.stringContaining('from b') });
    expect(authorize(hello('m', 'bad'), link('c1'))).toMatchObject({ code: 'unauthorized' });
    expect(authorize(hello('m', 'bad'), link('c2'))).toMatchObject({ code: 'unauthorized' });
    expect(authorize(hello('m', 'bad'), link('c3'))).toMatchObject({ code: 'rate_limited', reason: expect.stringContaining('as m') });
    // A valid token always joins, whatever the buckets say.
    expect(authorize(hello('s', tokens.s), link('b'))).toEqual({ ok: true, authenticated: true });
    store.close();
  });

  it('without an address only the name is limited; with hellosPerMinute false nothing is', () => {
    const { store } = registry('s');
    const byName = siteAuthorizer({ store, hellosPerMinute: 2, now: () => 0 });
    for (let i = 0; i < 20; i++) expect(byName(hello(`n${i}`, 'bad'), link('same'))).toMatchObject({ code: 'unauthorized' });
    byName(hello('n0', 'bad'), link('same'));
    expect(byName(hello('n0', 'bad'), link('same'))).toMatchObject({ code: 'rate_limited' });
    const unlimited = siteAuthorizer({ store, hellosPerMinute: false, addressOf: () => 'one', now: () => 0 });
    for (let i = 0; i < 100; i++) expect(unlimited(hello('n', 'bad'), link('x'))).toMatchObject({ code: 'unauthorized' });
    const defaults = siteAuthorizer({ store, addressOf: () => 'one', now: () => 0 });
    for (let i = 0; i < DEFAULT_HELLOS_PER_MINUTE; i++) expect(defaults(hello(`d${i}`, 'bad'), link('x'))).toMatchObject({ code: 'unauthorized' });
    expect(defaults(hello('d', 'bad'), link('x'))).toMatchObject({ code: 'rate_limited', reason: 'too many join attempts from one; retry in 2 s' });
    store.close();
  });
});

it('the token tables are plain SQLite another process can open', () => {
  const path = join(tempDir(), 'fedtune.db');
  const store = new SiteTokenStore(path);
  store.add('s');
  const other = new Database(path, { readonly: true });
  expect(other.prepare('SELECT name FROM site_tokens').all()).toEqual([{ name: 's' }]);
  other.close();
  store.close();
});
