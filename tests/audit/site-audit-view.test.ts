import { describe, expect, it } from 'vitest';
import { chainAuditEntry, GENESIS_PREV, type AuditEntry, type AuditEntryType } from '../../shared/src/audit/audit-entry.ts';
import { siteViewOfAuditEntry, RUN_LEVEL_AUDIT_TYPES } from '../../shared/src/audit/site-audit-view.ts';
import { isRedacted } from '../../shared/src/audit/redacted-audit-entry.ts';
import { verifyAuditChain } from '../../shared/src/audit/verify-audit-chain.ts';
import { compareSiteLog } from '../../shared/src/audit/compare-site-log.ts';

const h = (c: string) => c.repeat(64);
const entry = (type: AuditEntryType, data: Record<string, unknown>, seq = 3): AuditEntry => chainAuditEntry(seq, h('0'), type, data, '2026-12-07T00:00:00.000Z');
const redactedOf = (e: AuditEntry, facts: Record<string, unknown>) => ({ seq: e.seq, at: e.at, type: e.type, redacted: facts, prev: e.prev, hash: e.hash });

describe("siteViewOfAuditEntry: a site's copy of its run's audit log", () => {
  // [what, entry, the copy for site "me"]
  const cases: Array<[string, AuditEntry, 'whole' | Record<string, unknown>]> = [
    ['run-start: whole', entry('run-start', { runId: 'r', config: h('c'), model: h('m') }), 'whole'],
    ['terms: whole', entry('terms', { sha256: h('t') }), 'whole'],
    ['model: whole', entry('model', { round: 2, sha256: h('m') }), 'whole'],
    ['privacy: whole', entry('privacy', { round: 2, epsilon: 1, delta: 1e-5 }), 'whole'],
    ['complete: whole', entry('complete', { status: 'complete', rounds: 3 }), 'whole'],
    ['its own join: whole', entry('join', { siteId: 'me', numExamples: 5, nonce: 'n' }), 'whole'],
    ['its own leave: whole', entry('leave', { siteId: 'me', reason: 'gone' }), 'whole'],
    ['its own update: whole', entry('update', { round: 1, siteId: 'me', sha256: h('a'), numExamples: 5, accepted: true }), 'whole'],
    ['a refusal of its name: whole', entry('refusal', { kind: 'hello', siteId: 'me', code: 'unauthorized', reason: 'bad token' }), 'whole'],
    ["another site's join: nothing stated", entry('join', { siteId: 'other', numExamples: 900, nonce: 'n' }), {}],
    ["another site's leave", entry('leave', { siteId: 'other', reason: 'gone' }), {}],
    ["another site's update: its round only", entry('update', { round: 4, siteId: 'other', sha256: h('b'), numExamples: 900, accepted: false, code: 'x' }), { round: 4 }],
    ['a refusal naming no site', entry('refusal', { kind: 'policy', reason: 'r' }), {}],
    ["another site's refusal", entry('refusal', { kind: 'connection', siteId: 'other', reason: 'r' }), {}],
    ['a name that only contains its name', entry('join', { siteId: 'me-too' }), {}],
    ['a round it trains in', entry('round-start', { round: 2, attempt: 1, participants: ['a', 'me', 'z'] }), { round: 2, attempt: 1, participant: true }],
    ['a round it does not train in', entry('round-start', { round: 2, attempt: 2, participants: ['a', 'z'] }), { round: 2, attempt: 2, participant: false }],
    ['a round whose participants are not a list', entry('round-start', { round: 2, attempt: 1, participants: 'me' }), { round: 2, attempt: 1, participant: false }],
    ['a round numbered oddly: no round stated', entry('round-start', { round: 1.5, attempt: -1, participants: ['me'] }), { participant: true }],
    ['a secure sum it is in', entry('secure-aggregation', { round: 3, attempt: 1, participants: ['me', 'o'], survivors: ['me'], masked: { me: h('d'), o: h('e') } }), { round: 3, attempt: 1, participant: true, survivor: true, masked: h('d') }],
    ['a secure attempt it dropped out of', entry('secure-aggregation', { round: 3, attempt: 2, participants: ['me', 'o'], survivors: ['o'], masked: { o: h('e') } }), { round: 3, attempt: 2, participant: true, survivor: false }],
    ['a secure sum with a malformed hash of its input: none stated', entry('secure-aggregation', { round: 3, attempt: 1, participants: ['me'], survivors: [], masked: { me: 'D'.repeat(64) } }), { round: 3, attempt: 1, participant: true, survivor: false }],
    ['a secure sum with no masked map', entry('secure-aggregation', { round: 3, attempt: 1, participants: [], survivors: [], masked: null }), { round: 3, attempt: 1, participant: false, survivor: false }],
    ['a secure sum with a masked map of strings, numbers', entry('secure-aggregation', { round: 3, attempt: 1, participants: [], survivors: [], masked: 'me' }), { round: 3, attempt: 1, participant: false, survivor: false }],
    ['a secure sum stating a hash one digit too long', entry('secure-aggregation', { round: 3, attempt: 1, participants: [], survivors: [], masked: { me: `0${h('d')}` } }), { round: 3, attempt: 1, participant: false, survivor: false }],
    ['a secure sum stating a hash with a digit after it', entry('secure-aggregation', { round: 3, attempt: 1, participants: [], survivors: [], masked: { me: `${h('d')}0` } }), { round: 3, attempt: 1, participant: false, survivor: false }],
    ['a secure sum with no masked map at all', entry('secure-aggregation', { round: 3, attempt: 1, participants: [], survivors: [] }), { round: 3, attempt: 1, participant: false, survivor: false }],
    ['round 0 and attempt 0 are stated', entry('round-start', { round: 0, attempt: 0, participants: [] }), { round: 0, attempt: 0, participant: false }],
    ['a round given as text is not', entry('update', { round: '3', siteId: 'x' }), {}],
  ];
  it.each(cases)('%s', (_what, e, expected) => {
    const view = siteViewOfAuditEntry(e, 'me');
    expect(view).toEqual(expected === 'whole' ? e : redactedOf(e, expected));
    // Nothing of another site's data crosses.
    if (expected !== 'whole') expect(JSON.stringify(view)).not.toMatch(/other|"o"|900|"z"|bad token/);
  });

  it('a site named __proto__ reads no inherited property as its masked input', () => {
    const e = entry('secure-aggregation', { round: 1, attempt: 1, participants: ['x'], survivors: ['x'], masked: { x: h('a') } });
    expect(siteViewOfAuditEntry(e, '__proto__')).toEqual(redactedOf(e, { round: 1, attempt: 1, participant: false, survivor: false }));
  });

  it('the run-level types are exactly those with no site in them', () => {
    expect([...RUN_LEVEL_AUDIT_TYPES].sort()).toEqual(['complete', 'model', 'privacy', 'recovery', 'run-start', 'terms']);
  });
});

describe("verifying a site's copy", () => {
  const chain: AuditEntry[] = [];
  const add = (type: AuditEntryType, data: Record<string, unknown>) => chain.push(chainAuditEntry(chain.length, chain.at(-1)?.hash ?? GENESIS_PREV, type, data, 't'));
  add('run-start', { runId: 'run-1', config: h('c'), model: h('m') });
  add('join', { siteId: 'me', numExamples: 5, nonce: 'a'.repeat(32) });
  add('join', { siteId: 'other', numExamples: 900, nonce: 'b'.repeat(32) });
  add('round-start', { round: 1, attempt: 1, participants: ['me', 'other'] });
  add('update', { round: 1, siteId: 'me', sha256: h('1'), bytes: 10, numExamples: 5, accepted: true });
  add('update', { round: 1, siteId: 'other', sha256: h('2'), bytes: 10, numExamples: 900, accepted: true });
  add('round-start', { round: 2, attempt: 1, participants: ['me', 'other'] });
  add('secure-aggregation', { round: 2, attempt: 1, participants: ['me', 'other'], survivors: ['me', 'other'], masked: { me: h('3'), other: h('4') } });
  add('model', { round: 2, sha256: h('m') });
  const text = (entries: readonly unknown[]) => entries.map((e) => `${JSON.stringify(e)}\n`).join('');
  const copy = chain.map((e) => siteViewOfAuditEntry(e, 'me'));
  const siteLog = [
    { at: 't', runId: 'run-1', siteId: 'me', round: 1, message: 'fitResult', sha256: h('1'), numExamples: 5 },
    { at: 't', runId: 'run-1', siteId: 'me', round: 2, message: 'secaggMasked', attempt: 1, sha256: h('3'), numExamples: 5 },
  ] as never[];

  it('verifies as a chain with the same head, its redacted entries counted', () => {
    const whole = verifyAuditChain(text(chain));
    const v = verifyAuditChain(text(copy), { allowRedacted: true });
    expect(v).toMatchObject({ ok: true, count: 9, redacted: 5 });
    expect(whole.ok && v.ok && v.head === whole.head).toBe(true);
    expect(copy.filter(isRedacted).map((e) => e.seq)).toEqual([2, 3, 5, 6, 7]);
  });

  it('a line that is JSON but no object is a malformed entry, redacted copies allowed or not', () => {
    for (const line of ['null', '5', '"redacted"', '[]', 'true']) {
      const text = `${JSON.stringify(chain[0])}\n${line}\n`;
      for (const verdict of [verifyAuditChain(text), verifyAuditChain(text, { allowRedacted: true })]) {
        expect(verdict).toMatchObject({ ok: false, line: 2, reason: expect.stringMatching(/^malformed entry: \(entry\): /) });
      }
    }
  });

  it("the coordinator's own log refuses a redacted entry", () => {
    const v = verifyAuditChain(text(copy));
    expect(v.ok || 'seq' in v).toBe(false);
    expect(v).toMatchObject({ ok: false, line: 3, good: chain.slice(0, 2), reason: "a redacted entry (a site's copy of the log): the coordinator's own log holds every entry whole" });
  });

  it("a copy's redacted entry still has to link, and has nothing more than a redacted entry holds", () => {
    const moved = copy.map((e) => (e.seq === 2 ? { ...e, prev: h('9') } : e));
    expect(verifyAuditChain(text(moved), { allowRedacted: true })).toMatchObject({ ok: false, line: 3, seq: 2 });
    const leaky = copy.map((e) => (e.seq === 2 ? { ...e, data: { siteId: 'other' } } : e));
    expect(verifyAuditChain(text(leaky), { allowRedacted: true })).toMatchObject({ ok: false, line: 3 });
    const extra = copy.map((e) => (e.seq === 2 ? { ...e, redacted: { siteId: 'other' } } : e));
    expect(verifyAuditChain(text(extra), { allowRedacted: true })).toMatchObject({ ok: false, line: 3 });
    // Its whole entries are still checked against their hashes.
    const edited = copy.map((e) => (e.seq === 4 && !isRedacted(e) ? { ...e, data: { ...e.data, numExamples: 6 } } : e));
    expect(verifyAuditChain(text(edited), { allowRedacted: true })).toMatchObject({ ok: false, line: 5, seq: 4, reason: 'hash does not match the entry (the entry was edited)' });
  });

  it("matches the site's own log: its plain update whole, its masked input as stated", () => {
    const v = verifyAuditChain(text(copy), { allowRedacted: true });
    if (!v.ok) throw new Error(v.message);
    expect(compareSiteLog(v.good, siteLog)).toEqual({ ok: true, siteId: 'me', runId: 'run-1', updates: 2 });
    // A masked input the copy states differently, or does not state: caught.
    const wrong = v.good.map((e) => (isRedacted(e) && e.type === 'secure-aggregation' ? { ...e, redacted: { ...e.redacted, masked: h('5') } } : e));
    expect(compareSiteLog(wrong, siteLog)).toMatchObject({ ok: false, reason: expect.stringContaining('secaggMasked of round 2') });
    const unstated = v.good.map((e) => (isRedacted(e) && e.type === 'secure-aggregation' ? { ...e, redacted: { round: 2 } } : e));
    expect(compareSiteLog(unstated, siteLog)).toMatchObject({ ok: false });
    const noRound = v.good.map((e) => (isRedacted(e) && e.type === 'secure-aggregation' ? { ...e, redacted: { masked: h('3') } } : e));
    expect(compareSiteLog(noRound, siteLog)).toMatchObject({ ok: false });
    // What a copy states counts only as a secure sum's masked input, with its round: a site that sent only its
    // plain update matches a copy whose other entries state less, or state it elsewhere.
    const plainOnly = siteLog.slice(0, 1);
    const stated = (facts: Record<string, unknown>, type = 'secure-aggregation') => v.good.map((e) => (isRedacted(e) && e.type === 'secure-aggregation' ? { ...e, type, redacted: facts } : e)) as typeof v.good;
    expect(compareSiteLog(stated({ round: 2 }), plainOnly)).toEqual({ ok: true, siteId: 'me', runId: 'run-1', updates: 1 });
    expect(compareSiteLog(stated({ masked: h('3') }), plainOnly)).toEqual({ ok: true, siteId: 'me', runId: 'run-1', updates: 1 });
    expect(compareSiteLog(stated({ round: 2, masked: h('3') }, 'round-start'), plainOnly)).toEqual({ ok: true, siteId: 'me', runId: 'run-1', updates: 1 });
    expect(compareSiteLog(stated({ round: 2, masked: h('3') }), plainOnly)).toMatchObject({ ok: false, reason: expect.stringContaining('records secaggMasked of round 2') });
    // Another site's copy states no masked input of "me": "me"'s log does not match it.
    const others = chain.map((e) => siteViewOfAuditEntry(e, 'other'));
    expect(compareSiteLog(others, siteLog)).toMatchObject({ ok: false });
  });
});
