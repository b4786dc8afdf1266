import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SiteEvent } from '@fedtune/shared';
import { auditedSiteEvents, SiteAuditLog } from '@fedtune/client-node';
import { tempDir } from '../helpers/federation.ts';

const sent = (round: number): SiteEvent => ({ type: 'update-sent', runId: 'r', round, message: 'fitResult', bytes: new Uint8Array([round]), numExamples: 10, metrics: { loss: 0.5 } });

/**
 * `fedtune client --audit-log FILE` puts the site's own audit log in front of its event listener. The site client
 * ignores a listener that throws (so the site keeps answering), which would make a failed audit write silent:
 * the failure is said on the site's log instead, and the event still reaches the listener behind.
 */
describe('a site audit log that can no longer be written', () => {
  it('records while it can; then says each failure on one log line, and every event still reaches the listener', () => {
    const dir = tempDir('fedtune-site-audit-');
    const path = join(dir, 'site.jsonl');
    const seen: SiteEvent[] = [];
    const lines: string[] = [];
    const listener = auditedSiteEvents(new SiteAuditLog(path, 'site-1'), (e) => seen.push(e), (l) => lines.push(l));
    listener(sent(1));
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(lines).toEqual([]);
    // The file is replaced by a directory: every later append fails (EISDIR).
    rmSync(path);
    mkdirSync(path);
    listener(sent(2));
    listener({ type: 'connected' });
    listener(sent(3));
    expect(seen.map((e) => e.type)).toEqual(['update-sent', 'update-sent', 'connected', 'update-sent']);
    expect(lines).toEqual([
      `site audit log: could not record a 'update-sent' event in ${path}: EISDIR; the log now misses it`,
      `site audit log: could not record a 'update-sent' event in ${path}: EISDIR; the log now misses it`,
    ]);
  });

  it('a failure that is not a system error is named by its message, clipped; without onLog or onEvent nothing throws', () => {
    const lines: string[] = [];
    const failing = { path: 'p', record: () => { throw new Error(`x${'y'.repeat(300)}`); } };
    auditedSiteEvents(failing, undefined, (l) => lines.push(l))(sent(1));
    expect(lines).toEqual([`site audit log: could not record a 'update-sent' event in p: x${'y'.repeat(199)}… (101 more characters); the log now misses it`]);
    expect(() => auditedSiteEvents(failing)(sent(1))).not.toThrow();
  });
});

describe("a site audit log whose last line a crash cut short", () => {
  it('is cut back to its whole lines when opened (the torn bytes moved aside, said once), so the next entry starts its own line and every line parses', () => {
    const dir = tempDir('fedtune-site-audit-torn-');
    const path = join(dir, 'site.jsonl');
    new SiteAuditLog(path, 'site-1').record(sent(1));
    const whole = readFileSync(path, 'utf8');
    const torn = '{"at":"2026-12-07T00:00:00.000Z","runId":"r","si';
    writeFileSync(path, whole + torn);
    const warnings: string[] = [];
    const log = new SiteAuditLog(path, 'site-1', undefined, (l) => warnings.push(l));
    expect(warnings).toEqual([`site audit log ${path}: its last line was cut short by a crash (${torn.length} bytes): moved aside to ${path}.torn`]);
    expect(readFileSync(`${path}.torn`, 'utf8')).toBe(torn);
    expect(readFileSync(path, 'utf8')).toBe(whole);
    log.record(sent(2));
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l).round)).toEqual([1, 2]);
    // A second crash: the next free name, the first kept.
    writeFileSync(path, readFileSync(path, 'utf8') + 'x');
    new SiteAuditLog(path, 'site-1', undefined, (l) => warnings.push(l));
    expect(readFileSync(`${path}.torn`, 'utf8')).toBe(torn);
    expect(readFileSync(`${path}.torn-2`, 'utf8')).toBe('x');
    // A whole log is left as it is, and nothing is said.
    new SiteAuditLog(path, 'site-1', undefined, (l) => warnings.push(l));
    expect(warnings).toHaveLength(2);
  });
});
