import { describe, expect, it } from 'vitest';
import type { RunningCoordinator } from '@fedtune/coordinator';
import { FAN_OUT_BYTES_PER_TURN } from '../coordinator/src/transport/paced-fan-out.ts';
import { startTestFederation } from './helpers/federation.ts';

/**
 * The round's fan-out is paced by the bytes it puts on the sites' sockets (paced-fan-out.ts), not only by a
 * count: the committed MLP is 407 KB, so at most ⌈4 MiB / 407 KB⌉ = 11 sites get it inline per turn of the event
 * loop — where 25 did before, holding the loop for 20–35 ms at 500 sites. By model reference (HTTP delivery)
 * an instruction is a few hundred bytes and the count (25) paces alone.
 */
describe('fan-out paced by bytes, in a real round', () => {
  it.each([
    ['socket', 11],
    ['http', 25],
  ] as const)('model delivery %s: 30 sites get their fit and their evaluation, at most %i per turn', async (modelDelivery, perTurn) => {
    let coordinator: RunningCoordinator | undefined;
    let turn = 0;
    let ticking = false;
    const fitTurns: number[] = [];
    const evaluateTurns: number[] = [];
    let fitBytes = 0;
    const tick = () => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    const fed = await startTestFederation({
      sites: 30,
      rounds: 1,
      transport: modelDelivery === 'http' ? 'socket' : 'memory',
      maxSiteExamples: 20,
      config: { federatedEvaluation: 'final', modelDelivery },
      onEvent: (e) => {
        if (e.type !== 'round-start') return;
        // The links' sends are wrapped once, at the round's start; the final federated evaluation goes through them too.
        for (const id of e.selected) {
          const link = coordinator!.engine.sites.get(id)!.link;
          const send = link.send.bind(link);
          link.send = ((event: string, payload: { weights?: Uint8Array }) => {
            if (event === 'fit') {
              fitTurns.push(turn);
              fitBytes = Math.max(fitBytes, payload.weights?.byteLength ?? 0);
            }
            if (event === 'evaluate') evaluateTurns.push(turn);
            return send(event as never, payload as never);
          }) as typeof link.send;
        }
        ticking = true;
        setImmediate(tick);
      },
    });
    coordinator = fed.coordinator;
    const report = await coordinator.done;
    ticking = false;
    await Promise.all(fed.siteRuns);
    await coordinator.close();
    expect(report.rounds[0].accepted).toHaveLength(30);
    expect(fitTurns).toHaveLength(30);
    const mostPerTurn = (turns: number[]) => Math.max(...turns.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map<number, number>()).values());
    expect(mostPerTurn(fitTurns)).toBe(perTurn);
    // The final round's federated evaluation sends the model to every site the same way.
    expect(evaluateTurns).toHaveLength(30);
    expect(mostPerTurn(evaluateTurns)).toBe(perTurn);
    if (modelDelivery === 'socket') {
      expect(fitBytes).toBeGreaterThan(400_000);
      expect(Math.ceil(FAN_OUT_BYTES_PER_TURN / fitBytes)).toBe(perTurn);
    } else expect(fitBytes).toBe(0);
  }, 120_000);
});
