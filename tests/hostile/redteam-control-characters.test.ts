import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { EngineEvent } from '@fedtune/coordinator';
import { PROTOCOL_VERSION } from '@fedtune/shared';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, honestSite } from './helpers.ts';

/**
 * A joined site puts terminal control sequences (a newline that forges a log line, ANSI/OSC escapes that clear
 * the operator's screen or write to their clipboard) where its text is quoted back: the run id of an update,
 * the reason of a siteFailure, the backend of its hello. The coordinator's console prints event reasons as they
 * are (cli/src/ui/round-progress.ts), so no event and no report field may carry a control character — nor a bidi
 * control that reorders what the operator reads, nor a Unicode line separator.
 */
const EVIL = '\n[coordinator] round 1 complete\u001b[2J\u001b]52;c;ZXZpbA==\u0007\u009b31m\u202e\u2066\u200f\u061c\u2028\u2029';
/** C0, DEL, C1, and (audit) the bidi formatting characters and U+2028/U+2029 (shared/src/text/one-line.ts). */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function controlStrings(value: unknown, path = '', out: string[] = []): string[] {
  if (typeof value === 'string') {
    if (CONTROL.test(value)) out.push(`${path}: ${JSON.stringify(value)}`);
  } else if (Array.isArray(value)) value.forEach((v, i) => controlStrings(v, `${path}[${i}]`, out));
  else if (value && typeof value === 'object' && !ArrayBuffer.isView(value)) for (const [k, v] of Object.entries(value)) controlStrings(v, `${path}.${k}`, out);
  return out;
}

it('control characters a site sends never reach the engine events or the report', { timeout: 60_000 }, async () => {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'control-chars', minSites: 2, onEvent: (e) => events.push(e), config: { runId: 'control-chars', quorum: 0.5 } });
  try {
    const evil = await attacker(coordinator.url!);
    evil.socket.on('terms', (t: { terms: { runId: string }; hash: string }) => evil.socket.emit('acceptTerms', { runId: t.terms.runId, siteId: 'site-b', hash: t.hash }));
    evil.socket.emit('hello', { protocol: PROTOCOL_VERSION, siteId: 'site-b', capabilities: { backend: `cpu${EVIL}`.slice(0, 64), runtime: 'node', numExamples: 40 } });
    const honest = await honestSite(coordinator.url!, 'site-a');
    const fit = await evil.next('fit', 20_000);
    evil.socket.emit('siteFailure', { runId: fit.runId, round: fit.round, siteId: 'site-b', code: 'data', reason: `bad data${EVIL}` });
    // A key of a strict object is quoted by the schema's refusal (zod: 'Unrecognized key: "…"'): made one line too.
    evil.socket.emit('heartbeat', { siteId: 'site-b', status: 'idle', ledger: { [`k${EVIL}`]: 1 } });
    evil.socket.emit('fitResult', { runId: fit.runId, round: fit.round, siteId: 'site-b', weights: fit.weights, numExamples: 40, metrics: { loss: 1, accuracy: 0.5, ledger: { runEpsilon: 1, totalEpsilon: 1, [`k${EVIL}`]: 1 } }, durationMs: 1 });
    evil.socket.emit('fitResult', { runId: `other${EVIL}`, round: fit.round, siteId: 'site-b', weights: fit.weights, numExamples: 40, metrics: { loss: 1, accuracy: 0.5 }, durationMs: 1 });
    const report = await coordinator.done;
    expect((await honest.run).completed).toBe(true);
    expect(report.status, report.aborted).toBe('complete');
    // The attack did arrive: its failure and its update are both recorded, quoted without the control characters.
    expect(report.rounds[0].failed).toEqual([{ siteId: 'site-b', reason: expect.stringContaining('data: bad data') }]);
    expect(report.rounds[0].rejected).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ siteId: 'site-b', code: 'malformed_payload', reason: expect.stringMatching(/Unrecognized key: "k \[coordinator\] round 1 complete \[2J ]52;c;ZXZpbA== 31m "/) }),
        expect.objectContaining({ siteId: 'site-b', code: 'stale_round', reason: expect.stringContaining('result is for run other') }),
      ]),
    );
    // What the peer is told is one line as well.
    const told = evil.received.filter((m) => m.event === 'rejected').map((m) => String((m.payload as { reason?: string }).reason));
    expect(told.some((r) => r.includes('Unrecognized key'))).toBe(true);
    expect(told.filter((r) => CONTROL.test(r))).toEqual([]);
    expect(controlStrings(events, 'events')).toEqual([]);
    expect(controlStrings(JSON.parse(readFileSync(join(coordinator.runDir, 'report.json'), 'utf8')), 'report')).toEqual([]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'site-joined', siteId: 'site-b', backend: expect.stringMatching(/^cpu /) }));
  } finally {
    await coordinator.close();
  }
});
