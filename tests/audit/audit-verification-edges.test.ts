import { describe, expect, it } from 'vitest';
import { AuditEntry, canonicalJson, chainAuditEntry, GENESIS_PREV, verifyAuditChain, type AuditEntryType } from '@fedtune/shared';
import { compareSiteLog, parseSiteLog } from '../../shared/src/audit/compare-site-log.ts';
import { SiteAuditEntry } from '../../shared/src/audit/site-audit-entry.ts';
import { thrown } from '../helpers/thrown.ts';

// The edges of what `fedtune audit verify` accepts: each schema bound on both sides, the canonical JSON the hashes
// are of, which coordinator entries count as a site's update, and where a verdict says the chain broke.

const H = (c: string) => c.repeat(64);

function chain(items: Array<[AuditEntryType, Record<string, unknown>]>, at = 't'): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const [type, data] of items) out.push(chainAuditEntry(out.length, out.at(-1)?.hash ?? GENESIS_PREV, type, data, at));
  return out;
}
const text = (entries: unknown[]) => entries.map((e) => `${JSON.stringify(e)}\n`).join('');

describe('the audit entry schema, both sides of every bound', () => {
  const entry = chainAuditEntry(0, GENESIS_PREV, 'join', { siteId: 's' }, 't');
  it.each([
    ['at of 40 characters', { at: 'a'.repeat(40) }, true],
    ['at of 41 characters', { at: 'a'.repeat(41) }, false],
    ['seq 0', { seq: 0 }, true],
    ['seq -1', { seq: -1 }, false],
    ['seq 1.5', { seq: 1.5 }, false],
    ['prev in upper case', { prev: 'A'.repeat(64) }, false],
    ['hash of 63 digits', { hash: 'a'.repeat(63) }, false],
    ['hash of 65 digits', { hash: 'a'.repeat(65) }, false],
    ['hash with a non-hex digit', { hash: `${'a'.repeat(63)}g` }, false],
    ['data a list', { data: [1] }, false],
    ['data null', { data: null }, false],
    ['type "privacy"', { type: 'privacy' }, true],
  ])('%s', (_name, over, ok) => {
    expect(AuditEntry.safeParse({ ...entry, ...over }).success).toBe(ok);
  });
});

describe("a site's log entry, both sides of every bound", () => {
  const good = { at: 't', runId: 'r', siteId: 's', round: 0, message: 'fitResult', sha256: H('a') };
  it.each([
    ['the minimal entry', {}, true],
    ['at of 41 characters', { at: 'a'.repeat(41) }, false],
    ['runId empty', { runId: '' }, false],
    ['runId of 128 characters', { runId: 'r'.repeat(128) }, true],
    ['runId of 129 characters', { runId: 'r'.repeat(129) }, false],
    ['siteId empty', { siteId: '' }, false],
    ['siteId of 129 characters', { siteId: 's'.repeat(129) }, false],
    ['round -1', { round: -1 }, false],
    ['round 0.5', { round: 0.5 }, false],
    ['attempt 1', { attempt: 1 }, true],
    ['attempt 0', { attempt: 0 }, false],
    ['message secaggMasked', { message: 'secaggMasked' }, true],
    ['message fitresult', { message: 'fitresult' }, false],
    ['sha256 in upper case', { sha256: H('A') }, false],
    ['sha256 after a leading x', { sha256: `x${H('a')}` }, false],
    ['sha256 before a trailing x', { sha256: `${H('a')}x` }, false],
    ['numExamples 0', { numExamples: 0 }, true],
    ['numExamples -1', { numExamples: -1 }, false],
    ['numExamples 1.5', { numExamples: 1.5 }, false],
    ['metrics of numbers', { metrics: { loss: 0.5 } }, true],
    ['metrics with a string', { metrics: { loss: '0.5' } }, false],
  ])('%s', (_name, over, ok) => {
    expect(SiteAuditEntry.safeParse({ ...good, ...over }).success).toBe(ok);
  });
});

describe('canonical JSON', () => {
  it('sorts keys by UTF-16 code units, escapes strings as JSON does, keeps nested arrays and objects', () => {
    expect(canonicalJson({ b: 1, B: 2, a: [{ z: 1, y: [true, 'q"\n'] }] })).toBe('{"B":2,"a":[{"y":[true,"q\\"\\n"],"z":1}],"b":1}');
    expect(canonicalJson('x')).toBe('"x"');
    expect(canonicalJson(false)).toBe('false');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(-0)).toBe('0');
    expect(canonicalJson(1e21)).toBe('1e+21');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({ a: undefined })).toBe('{}');
    expect(canonicalJson(JSON.parse('{"__proto__":{"x":1}}'))).toBe('{"__proto__":{"x":1}}');
  });

  it('refuses what JSON cannot hold, with typed codes', () => {
    expect(thrown(() => canonicalJson(-Infinity))).toMatchObject({ code: 'non_finite', message: 'canonical JSON has no form for -Infinity' });
    expect(thrown(() => canonicalJson([NaN]))).toMatchObject({ code: 'non_finite' });
    expect(thrown(() => canonicalJson(undefined))).toMatchObject({ code: 'malformed_payload', message: 'canonical JSON has no form for a undefined' });
    expect(thrown(() => canonicalJson(1n))).toMatchObject({ code: 'malformed_payload', message: 'canonical JSON has no form for a bigint' });
    expect(thrown(() => canonicalJson({ s: Symbol('x') }))).toMatchObject({ code: 'malformed_payload' });
  });
});

describe('verifyAuditChain: where it breaks and what it keeps', () => {
  const log = chain([
    ['run-start', { runId: 'r1' }],
    ['join', { siteId: 'a' }],
    ['complete', { status: 'complete' }],
  ]);

  it('an intact log: every entry good, the head the last hash; each of its hashes is an accepted expected head', () => {
    const v = verifyAuditChain(text(log));
    expect(v).toEqual({ ok: true, good: log, redacted: 0, count: 3, head: log[2].hash });
    for (const e of log) expect(verifyAuditChain(text(log), { expectedHead: e.hash }).ok).toBe(true);
    expect(verifyAuditChain(text(log), { expectedHead: GENESIS_PREV }).ok).toBe(false);
  });

  it('a head mismatch names where the log ends and cuts the head it quotes', () => {
    const v = verifyAuditChain(text(log), { expectedHead: `${'z'.repeat(200)}` });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.line).toBe(4);
    expect(v.seq).toBeUndefined();
    expect(v.good).toEqual(log);
    expect(v.reason.length).toBeLessThan(300);
    expect(v.reason).toMatch(new RegExp(`^the expected head z{64}… \\(136 more characters\\) is not in the log, which ends at ${log[2].hash} after 3 entries`));
    expect(v.message).toBe(`audit log head mismatch: ${v.reason}`);
  });

  it('a bad first line: no good entries; a line that does not parse has no seq in its verdict', () => {
    const v = verifyAuditChain(`{\n${text(log)}`);
    expect(v).toMatchObject({ ok: false, line: 1, good: [], reason: 'not valid JSON (edited or cut short)', message: 'audit log broken at line 1: not valid JSON (edited or cut short)' });
    expect(v.ok || 'seq' in v).toBe(false);
    const spaces = verifyAuditChain(`${text(log.slice(0, 1))}   \n`);
    expect(spaces).toMatchObject({ ok: false, line: 2, reason: 'empty line' });
    if (!spaces.ok) expect(spaces.good).toEqual(log.slice(0, 1));
  });

  it('a malformed entry names its first issue, clipped', () => {
    const v = verifyAuditChain(text([{ ...log[0], at: 'x'.repeat(100) }]));
    expect(v).toMatchObject({ ok: false, line: 1, reason: expect.stringMatching(/^malformed entry: at: /) });
    const w = verifyAuditChain(text([[1, 2]]));
    expect(w).toMatchObject({ ok: false, line: 1, reason: expect.stringMatching(/^malformed entry: \(entry\): /) });
  });

  it('a log without its final newline is cut short even when every line parses; the lines before it are good', () => {
    const v = verifyAuditChain(text(log).slice(0, -1));
    expect(v).toMatchObject({ ok: false, line: 3, reason: 'the last line is cut short (no newline at its end)' });
    if (!v.ok) expect(v.good).toEqual(log.slice(0, 2));
  });
});

describe("compareSiteLog: which coordinator entries are a site's updates", () => {
  const sent = (over: Partial<SiteAuditEntry>): SiteAuditEntry => ({ at: 't', runId: 'r1', siteId: 'a', round: 1, message: 'fitResult', sha256: H('1'), ...over });

  it('entries of other types, other sites, a non-string hash, a non-numeric round or no masked map are not updates of this site', () => {
    const log = chain([
      ['run-start', { runId: 'r1' }],
      ['update', { round: 1, siteId: 'a', sha256: H('1') }],
      ['update', { round: 1, siteId: 'b', sha256: H('2') }],
      ['update', { round: 2, siteId: 'a', sha256: 5 }],
      ['update', { round: '3', siteId: 'a', sha256: H('3') }],
      ['model', { round: 4, siteId: 'a', sha256: H('4') }],
      ['secure-aggregation', { round: 5, masked: null }],
      ['secure-aggregation', { round: 6, masked: 'a' }],
      ['secure-aggregation', { round: 7, masked: { a: 7 } }],
      ['secure-aggregation', { round: '8', masked: { a: H('8') } }],
      ['secure-aggregation', { round: 9, masked: { b: H('9') } }],
    ]);
    expect(compareSiteLog(log, [sent({})])).toEqual({ ok: true, siteId: 'a', runId: 'r1', updates: 1 });
  });

  it('the run is the first run-start that names one; a run-start without a string runId is not one', () => {
    const log = chain([
      ['run-start', { runId: 7 }],
      ['update', { round: 1, siteId: 'a', sha256: H('1') }],
    ]);
    expect(compareSiteLog(log, [sent({})])).toMatchObject({ ok: false, reason: 'the audit log has no run-start entry naming its run' });
    const two = chain([
      ['run-start', { runId: 'r1' }],
      ['run-start', { runId: 'r2' }],
      ['update', { round: 1, siteId: 'a', sha256: H('1') }],
    ]);
    expect(compareSiteLog(two, [sent({})])).toMatchObject({ ok: true, runId: 'r1' });
  });

  it('a site id named like a prototype key is an ordinary key of the masked map', () => {
    const log = chain([
      ['run-start', { runId: 'r1' }],
      ['secure-aggregation', { round: 1, masked: JSON.parse(`{"__proto__":"${H('5')}"}`) }],
    ]);
    expect(compareSiteLog(log, [sent({ siteId: '__proto__', message: 'secaggMasked', sha256: H('5') })])).toMatchObject({ ok: true, siteId: '__proto__', updates: 1 });
    expect(compareSiteLog(log, [sent({ siteId: 'constructor', message: 'secaggMasked', sha256: H('5') })])).toMatchObject({ ok: false });
  });

  it('the same update sent twice (a retried attempt) matches one record; long ids are clipped in the reason', () => {
    const log = chain([
      ['run-start', { runId: 'r1' }],
      ['update', { round: 1, siteId: 'a', sha256: H('1') }],
    ]);
    expect(compareSiteLog(log, [sent({ attempt: 1 }), sent({ attempt: 2 })])).toEqual({ ok: true, siteId: 'a', runId: 'r1', updates: 2 });
    const long = 'x'.repeat(128);
    const v = compareSiteLog(log, [sent({ runId: long })]);
    expect(v).toMatchObject({ ok: false });
    if (!v.ok) expect(v.reason.length).toBeLessThan(200);
  });
});

describe('messages', () => {
  it('an entry that is not an object, or has a key too many, is named "(entry)" by both readers', () => {
    const site = { at: 't', runId: 'r1', siteId: 'a', round: 1, message: 'fitResult', sha256: H('1') };
    expect(parseSiteLog('[]\n')).toEqual({ ok: false, message: 'site log line 1: malformed entry: (entry): Invalid input: expected object, received array' });
    expect(parseSiteLog(`${JSON.stringify({ ...site, x: 1 })}\n`)).toEqual({ ok: false, message: 'site log line 1: malformed entry: (entry): Unrecognized key: "x"' });
    const first = chainAuditEntry(0, GENESIS_PREV, 'join', {}, 't');
    expect(verifyAuditChain('[]\n')).toMatchObject({ ok: false, reason: 'malformed entry: (entry): Invalid input: expected object, received array' });
    expect(verifyAuditChain(`${JSON.stringify({ ...first, x: 1 })}\n`)).toMatchObject({ ok: false, reason: 'malformed entry: (entry): Unrecognized key: "x"' });
    expect(verifyAuditChain(`${JSON.stringify({ ...first, prev: H('A') })}\n`)).toMatchObject({ ok: false, reason: 'malformed entry: prev: expected 64 lowercase hex digits' });
    expect(parseSiteLog(`${JSON.stringify({ ...site, metrics: { loss: 'low' } })}\n`)).toEqual({ ok: false, message: 'site log line 1: malformed entry: metrics.loss: Invalid input: expected number, received string' });
    expect(parseSiteLog(`${JSON.stringify({ ...site, sha256: H('A') })}\n`)).toEqual({ ok: false, message: 'site log line 1: malformed entry: sha256: expected 64 lowercase hex digits' });
  });

  it('the run is taken from the run-start entry, not from an earlier entry of another type that names a run', () => {
    const log = chain([
      ['terms', { runId: 'other' }],
      ['run-start', { runId: 'r1' }],
      ['update', { round: 1, siteId: 'a', sha256: H('1') }],
    ]);
    expect(compareSiteLog(log, [{ at: 't', runId: 'r1', siteId: 'a', round: 1, message: 'fitResult', sha256: H('1') }])).toEqual({ ok: true, siteId: 'a', runId: 'r1', updates: 1 });
  });

  it('a masked map only counts in a secure-aggregation entry, and only when it is an object (a string indexed by a site id is not one)', () => {
    const log = chain([
      ['run-start', { runId: 'r1' }],
      ['update', { round: 1, siteId: '0', sha256: H('1') }],
      ['model', { round: 2, masked: { 0: H('6') } }],
      ['secure-aggregation', { round: 3, masked: H('7') }],
    ]);
    expect(compareSiteLog(log, [{ at: 't', runId: 'r1', siteId: '0', round: 1, message: 'fitResult', sha256: H('1') }])).toEqual({ ok: true, siteId: '0', runId: 'r1', updates: 1 });
  });
});

describe('parseSiteLog', () => {
  it('a log without its final newline is read whole; a blank line in the middle is not JSON', () => {
    const line = JSON.stringify({ at: 't', runId: 'r1', siteId: 'a', round: 1, message: 'fitResult', sha256: H('1') });
    expect(parseSiteLog(`${line}\n${line}`)).toMatchObject({ ok: true, entries: [{ round: 1 }, { round: 1 }] });
    expect(parseSiteLog(`${line}\n\n${line}\n`)).toEqual({ ok: false, message: 'site log line 2: not valid JSON' });
    expect(parseSiteLog(`${JSON.stringify([line])}\n`)).toMatchObject({ ok: false, message: expect.stringMatching(/^site log line 1: malformed entry: \(entry\): /) });
  });
});

describe('an entry nested deeper than hashing reaches', () => {
  it('is refused as an edit at its line, never thrown (before: "internal: Maximum call stack size exceeded")', () => {
    // V8's JSON.parse takes 100,000 levels; hashing the entry (canonical JSON) recurses and overflows the stack.
    const depth = 100_000;
    const first = chainAuditEntry(0, GENESIS_PREV, 'join', { siteId: 's' }, 't');
    const line = `{"seq":1,"at":"t","type":"join","data":{"siteId":"s","x":${'['.repeat(depth)}${']'.repeat(depth)}},"prev":"${first.hash}","hash":"${'0'.repeat(64)}"}`;
    expect(() => canonicalJson(JSON.parse(line))).toThrow(RangeError);
    const verdict = verifyAuditChain(`${JSON.stringify(first)}\n${line}\n`);
    expect(verdict).toMatchObject({ ok: false, line: 2, seq: 1, message: 'audit log broken at line 2 (seq 1): data nested too deeply to hash (the entry was edited)' });
  });
});
