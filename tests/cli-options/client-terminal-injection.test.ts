import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { describe, expect, it } from 'vitest';
import { socketIoServerTransport } from '@fedtune/coordinator';
import { PROTOCOL_VERSION, type SiteEvent } from '@fedtune/shared';
import { runEndLine, siteEndLine } from '../../cli/src/commands/client-command.ts';
import { describeRunTerms } from '../../cli/src/commands/show-terms.ts';
import { classesAlignedLine, siteEventLines } from '../../cli/src/ui/site-event-line.ts';
import { signed, terms } from '../policy/terms-fixture.ts';

/**
 * `fedtune client` prints strings a coordinator chooses (run id, codes, reasons, class names, terms fields).
 * A hostile one must not reach the operator's terminal as escapes (recolour, retitle, erase lines), CR/LF
 * (forged log lines) or megabytes: every printed line is one line, without control characters, bounded.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const HOSTILE: Array<[string, string]> = [
  ['ANSI colour', '\u001b[31mred\u001b[0m'],
  ['OSC title', '\u001b]0;pwned\u0007'],
  ['carriage return', 'run\r\u001b[2Kround 1 done: update sent'],
  ['newline (a forged line)', 'x\n[site] privacy ledger: ε 0.00 of 4 spent'],
  ['10k characters', 'A'.repeat(10_000)],
];

const events = (s: string): SiteEvent[] => [
  { type: 'welcome', runId: s },
  { type: 'refused-terms', reason: s },
  { type: 'refused-terms', round: 2, reason: s },
  { type: 'classes-aligned', classNames: [s, 'dog'], missing: [s] },
  { type: 'waiting-for-coordinator', reason: s, retryMs: 1000, windowMs: 60_000 },
  { type: 'reconnecting', reason: s, delayMs: 500, attempt: 1 },
  { type: 'rejected', code: s, reason: s },
  { type: 'rejected', code: 'node_busy', reason: s },
  { type: 'failed', round: 0, code: s, reason: s },
  { type: 'failed', round: 3, code: s, reason: s },
  { type: 'terms', terms: signed(terms((t) => (t.coordinator = s))) },
] as unknown as SiteEvent[];

function expectSafe(line: string, max: number) {
  expect(line).not.toMatch(CONTROL);
  expect(line.length).toBeLessThanOrEqual(max);
}

describe.each(HOSTILE)('a coordinator string with %s', (_name, s) => {
  it('the site event lines: one line each, no control characters, bounded', () => {
    for (const e of events(s)) {
      const lines = siteEventLines(e, { server: ['http://127.0.0.1:1'] });
      expect(lines.length, e.type).toBeGreaterThan(0);
      for (const line of lines) expectSafe(line, 800);
    }
  });

  it('the last line, the class names, the --show-terms lines', () => {
    expectSafe(runEndLine(s, { rounds: 3 } as never, 3), 400);
    expectSafe(runEndLine(s, { rounds: 3, aborted: s } as never, 3), 800);
    expectSafe(siteEndLine({ completed: false, runId: s, reason: s, roundsTrained: 0 } as never).line, 400);
    expectSafe(classesAlignedLine([s, s], [s]), 400);
    const t = terms((x) => {
      x.runId = s;
      x.coordinator = s;
    });
    for (const line of describeRunTerms(signed(t), { ok: false, reason: s } as never)) expectSafe(line, 2100);
  });
});

it('end to end: a coordinator welcoming `fedtune client` with a hostile run id and rejecting it with a hostile reason prints neither raw', async () => {
  const http = createServer();
  const io = new Server(http);
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const transport = socketIoServerTransport(io);
  const evilRun = 'run\u001b[2K\r\u001b[32mround 1 done: update sent\u001b[0m\n';
  transport.onConnection((link) => link.onMessage((m) => {
    if (m.event !== 'hello') return;
    link.send('welcome', { protocol: PROTOCOL_VERSION, runId: evilRun, siteId: (m.payload as { siteId: string }).siteId });
    link.send('rejected', { code: 'unauthorized', reason: `x\n[site] privacy ledger: ε 0.00 of 4 spent\n\u001b]0;pwned\u0007${'A'.repeat(1900)}` });
  }));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  try {
    const out = await new Promise<string>((resolve) => {
      const p = spawn('node', ['cli/bin/fedtune.mjs', 'client', '--server', url, '--site', 'site-a', '--data', 'digits:1/4'], { cwd: process.cwd(), env: { ...process.env, NO_COLOR: '1' } });
      let s = '';
      // The client retries after 'rejected': what it printed of it is all this test reads.
      const read = (d: Buffer) => {
        s += d;
        if (s.includes('rejected by the coordinator')) setTimeout(() => p.kill(), 300);
      };
      p.stdout.on('data', read);
      p.stderr.on('data', read);
      const kill = setTimeout(() => p.kill(), 60_000);
      p.on('exit', () => {
        clearTimeout(kill);
        resolve(s);
      });
    });
    expect(out).toMatch(/joined run run /);
    expect(out).toMatch(/rejected by the coordinator: unauthorized — x \[site\] privacy ledger/);
    expect(out).not.toMatch(/[\u001b\u0007\r]/);
    expect(out.split('\n').filter((l) => l.startsWith('[site] privacy ledger'))).toEqual([]);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(800);
  } finally {
    await transport.close();
  }
}, 90_000);
