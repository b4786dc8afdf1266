import { expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '@fedtune/shared';
import type { EngineEvent } from '@fedtune/coordinator';
import { startTinyCoordinator } from '../access/helpers.ts';
import { attacker, until } from '../hostile/helpers.ts';

const rawHello = (a: Awaited<ReturnType<typeof attacker>>, siteId: string) =>
  a.socket.emit('hello', { protocol: PROTOCOL_VERSION, siteId, capabilities: { backend: 'cpu', runtime: 'node', numExamples: 40 } });

it('a site joins only by accepting the terms: silence is dropped after the hello timeout, a wrong hash is refused, a refusal is recorded on one line', async () => {
  const events: EngineEvent[] = [];
  const coordinator = await startTinyCoordinator({ runId: 'join', minSites: 2, connectionLimits: { helloTimeoutMs: 800 }, onEvent: (e) => events.push(e) });
  try {
    // Silent after the terms: never joined, dropped with 'timeout'.
    const silent = await attacker(coordinator.url!);
    rawHello(silent, 'site-silent');
    const terms = await silent.next('terms');
    expect(terms.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(coordinator.engine.sites.size).toBe(0);
    // Messages before accepting are refused.
    silent.socket.emit('heartbeat', { siteId: 'site-silent', status: 'idle' });
    silent.socket.emit('siteFailure', { runId: 'join', round: 1, siteId: 'site-silent', code: 'internal', reason: 'x' });
    expect((await silent.next('rejected')).reason).toMatch(/accept the run's terms before sending "siteFailure"/);
    const timeout = await silent.next('rejected', 5_000);
    expect(timeout).toMatchObject({ code: 'timeout', reason: "no answer to the run's terms within 800 ms" });
    await silent.closed;

    // A wrong hash: refused and closed.
    const wrong = await attacker(coordinator.url!);
    rawHello(wrong, 'site-wrong');
    await wrong.next('terms');
    wrong.socket.emit('acceptTerms', { runId: 'join', siteId: 'site-wrong', hash: '0'.repeat(64) });
    expect(await wrong.next('rejected')).toMatchObject({ code: 'unauthorized', reason: expect.stringMatching(/this run's terms are/) });
    await wrong.closed;

    // A refusal with a multi-line, long reason: one clipped line in the event and the report.
    const refuser = await attacker(coordinator.url!);
    rawHello(refuser, 'site-no');
    await refuser.next('terms');
    refuser.socket.emit('refuseTerms', { runId: 'join', siteId: 'site-no', code: 'policy_refused', reason: `line one\nline two ${'z'.repeat(1500)}` });
    await refuser.closed;
    await until(() => events.some((e) => e.type === 'site-refused'), 'site-refused');
    const refused = events.find((e) => e.type === 'site-refused') as Extract<EngineEvent, { type: 'site-refused' }>;
    expect(refused.siteId).toBe('site-no');
    expect(refused.reason).toMatch(/^policy_refused: line one line two z+… \(\d+ more characters\)$/);
    expect(coordinator.engine.report.termsRefusals).toMatchObject({ total: 1, sites: [{ siteId: 'site-no', reason: refused.reason }] });

    // The accepted hash joins (the helper's attacker accepts): one site, then a second lets the run start.
    const good = await attacker(coordinator.url!);
    good.hello('site-good');
    await until(() => coordinator.engine.sites.size === 1, 'site-good joined');
    expect(coordinator.engine.sites.ids()).toEqual(['site-good']);
    // Neither the silent, the wrong nor the refusing site ever counted as joined or left.
    expect(events.filter((e) => e.type === 'site-joined').map((e) => (e as { siteId: string }).siteId)).toEqual(['site-good']);
    expect(events.filter((e) => e.type === 'site-left')).toHaveLength(0);
    good.socket.close();
  } finally {
    await coordinator.close();
  }
}, 60_000);
