import { deriveSeed, SeededRandom, type ClientConnector } from '@fedtune/shared';

/**
 * Whether a simulated site drops out instead of answering the `nth` fit instruction (1, 2, … within a round: one
 * per attempt) of `round`: seeded by the run's seed, the site and the instruction, so a run with the same seed drops
 * the same sites at the same instructions.
 */
export function dropsOut(probability: number, seed: number, siteId: string, round: number, nth: number): boolean {
  if (!(probability > 0)) return false;
  return new SeededRandom(deriveSeed(seed, 'dropout', siteId, round, nth)).next() < probability;
}

/**
 * A site's connector for `fedtune simulate --dropout P`: when a fit instruction arrives and the site drops out, its
 * connection closes instead — the site never sees the instruction, the coordinator sees the connection go mid-round
 * (as a device losing its network would) — and the site reconnects and joins again (its client's reconnect policy)
 * in time for later rounds. Every other message passes unchanged.
 */
export function droppingConnector(inner: ClientConnector, o: { siteId: string; probability: number; seed: number; onDrop?: (round: number) => void }): ClientConnector {
  const fits = new Map<number, number>();
  return {
    connect: async () => {
      const link = await inner.connect();
      const onMessage = link.onMessage.bind(link);
      link.onMessage = ((handler: Parameters<typeof link.onMessage>[0]) =>
        onMessage((message) => {
          if (message.event === 'fit') {
            const round = message.payload.round;
            const nth = (fits.get(round) ?? 0) + 1;
            fits.set(round, nth);
            if (dropsOut(o.probability, o.seed, o.siteId, round, nth)) {
              o.onDrop?.(round);
              link.close();
              return;
            }
          }
          handler(message);
        })) as typeof link.onMessage;
      return link;
    },
  };
}
