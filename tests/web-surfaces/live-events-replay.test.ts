import { expect, it } from 'vitest';
import { LiveEvents, type EngineEvent } from '@fedtune/coordinator';
import { REPLAYED_PEER_EVENTS } from '../../coordinator/src/http/dashboard/live-events.ts';
import { MAX_REMEMBERED_DEPARTED } from '../../coordinator/src/http/dashboard/site-tally.ts';

// Audit: a new dashboard connection replayed up to 10,000 peer events, so a peer churning names made every
// dashboard open cost 10k events. It now replays the run's own events all, the joins of the sites there, the
// peers' latest REPLAYED_PEER_EVENTS, and the run's site counts (which the dashboard shows as they are).

const join = (siteId: string): EngineEvent => ({ type: 'site-joined', siteId, backend: 'cpu', runtime: 'node', numExamples: 40 });
const leave = (siteId: string): EngineEvent => ({ type: 'site-left', siteId, reason: 'disconnected' });
const roundEnd = (round: number) => ({ type: 'round-end', record: { round } }) as unknown as EngineEvent;
const PEER_TYPES = new Set(['site-joined', 'site-left', 'result', 'update-received']);

it('after many more peer events than the bound: at most the bound of them replayed, every run event, the sites there, the right counts', () => {
  const events = new LiveEvents();
  events.publish({ type: 'pretrained', accuracy: 0.5, loss: 1 });
  for (const s of ['site-a', 'site-b']) events.publish(join(s));
  const CHURN = 5000;
  for (let i = 0; i < CHURN; i++) {
    events.publish(join(`evil-${i}`));
    events.publish(leave(`evil-${i}`));
    if (i % 500 === 0) events.publish(roundEnd(i / 500 + 1));
  }
  const { events: replay, siteCounts } = events.history();
  const peers = replay.filter((e) => PEER_TYPES.has(e.type));
  // The peers' window plus the joins of the two sites still there (older than the window).
  expect(peers.length).toBeLessThanOrEqual(REPLAYED_PEER_EVENTS + 2);
  expect(peers.filter((e) => e.type === 'site-joined' && e.siteId.startsWith('site-')).map((e) => (e as { siteId: string }).siteId)).toEqual(['site-a', 'site-b']);
  expect(replay.filter((e) => e.type === 'round-end')).toHaveLength(CHURN / 500);
  expect(replay.filter((e) => e.type === 'pretrained')).toHaveLength(1);
  // In publication order.
  const rounds = replay.filter((e) => e.type === 'round-end').map((e) => (e as unknown as { record: { round: number } }).record.round);
  expect(rounds).toEqual([...rounds].sort((a, b) => a - b));
  expect(replay.at(-1)).toMatchObject({ type: 'site-left', siteId: `evil-${CHURN - 1}` });
  expect(siteCounts).toEqual({ joined: CHURN + 2, left: CHURN });
  // Each join and departure carries the counts after it (the dashboard shows those).
  expect(replay.at(-1)!.siteCounts).toEqual({ joined: CHURN + 2, left: CHURN });
});

it('counts as the dashboard does: a return is no new join, leaving after the end is finishing, departed sites remembered up to the bound', () => {
  const events = new LiveEvents();
  events.publish(join('a'));
  events.publish(join('a')); // a second hello while there: no new join
  events.publish(leave('a'));
  events.publish(join('a')); // back: no longer counted as left
  expect(events.history().siteCounts).toEqual({ joined: 1, left: 0 });
  events.publish(leave('nobody')); // never joined: nothing
  events.publish(leave('a'));
  expect(events.history().siteCounts).toEqual({ joined: 1, left: 1 });
  for (let i = 0; i < MAX_REMEMBERED_DEPARTED; i++) {
    events.publish(join(`p-${i}`));
    events.publish(leave(`p-${i}`));
  }
  // 'a' is forgotten: its return counts as a join (as the dashboard, which forgets the same ones).
  events.publish(join('a'));
  expect(events.history().siteCounts).toEqual({ joined: MAX_REMEMBERED_DEPARTED + 2, left: MAX_REMEMBERED_DEPARTED + 1 });
  events.publish(join('b'));
  events.publish({ type: 'complete', report: { rounds: [], status: 'complete' } } as unknown as EngineEvent);
  events.publish(leave('b'));
  const after = events.history();
  expect(after.siteCounts).toEqual({ joined: MAX_REMEMBERED_DEPARTED + 3, left: MAX_REMEMBERED_DEPARTED + 1 });
  // The sites there at the end are replayed, however old their joins.
  expect(after.events.filter((e) => e.type === 'site-joined' && ['a', 'b'].includes(e.siteId)).map((e) => (e as { siteId: string }).siteId)).toEqual(['a', 'b']);
});

it('a small run replays everything', () => {
  const events = new LiveEvents();
  const published: EngineEvent[] = [join('a'), roundEnd(1), join('b'), leave('b'), roundEnd(2)];
  for (const e of published) events.publish(e);
  expect(events.history().events.map((e) => e.type)).toEqual(published.map((e) => e.type));
});
