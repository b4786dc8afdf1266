import { describe, expect, it } from 'vitest';
import { FAN_OUT_BYTES_PER_TURN, FAN_OUT_CHUNK, pacedFanOut } from '../../coordinator/src/transport/paced-fan-out.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

/** How many had been sent at the start of each of the first 3 turns; resolves once the fan-out is done. */
async function sentPerTurn(sent: readonly unknown[], done: Promise<void>): Promise<number[]> {
  const seen: number[] = [];
  for (let k = 0; k < 3; k++) {
    seen.push(sent.length);
    await turn();
  }
  await done;
  return seen;
}

describe('paced fan-out', () => {
  it.each<[string, number | undefined, number[]]>([
    ['chunks of 2', 2, [2, 4, 5]],
    [`the default chunk (${FAN_OUT_CHUNK})`, undefined, [5, 5, 5]],
    ['no pacing (Infinity, as under secure aggregation)', Infinity, [5, 5, 5]],
  ])('%s: sends in order, a chunk per turn of the event loop', async (_, chunk, afterTurns) => {
    const sent: number[] = [];
    const done = pacedFanOut([1, 2, 3, 4, 5], (x) => void sent.push(x), chunk);
    const seen = await sentPerTurn(sent, done);
    expect(seen).toEqual(afterTurns);
    expect(sent).toEqual([1, 2, 3, 4, 5]);
  });

  it('sends 60 to the default chunk in three turns', async () => {
    const sent: number[] = [];
    const done = pacedFanOut(Array.from({ length: 60 }, (_, i) => i), (x) => void sent.push(x));
    expect(sent).toHaveLength(FAN_OUT_CHUNK);
    await done;
    expect(sent).toHaveLength(60);
  });

  it.each<[string, number[], number | undefined, number[]]>([
    // 407 KB each (the default model sent inline): 4 MiB is 10.3 of them, so a turn ends after the 11th.
    ['the default model inline', Array(25).fill(407_356), undefined, [11, 22, 25]],
    ['exactly the budget: the turn ends with it', [2, 2, 2, 2, 2], 4, [2, 4, 5]],
    ['one send over the budget still goes, alone', [10, 1, 1, 1], 4, [1, 4, 4]],
    ['nothing reported (void) counts as 0: the count alone paces', [0, 0, 0, 0, 0], 1, [5, 5, 5]],
    ['no byte pacing (Infinity, as under secure aggregation)', Array(20).fill(1e9), Infinity, [20, 20, 20]],
  ])('%s: a turn ends once the bytes sent reach the budget', async (_, sizes, budget, afterTurns) => {
    const sent: number[] = [];
    const done = pacedFanOut(sizes.map((_, i) => i), (i) => {
      sent.push(i);
      return sizes[i] === 0 ? undefined : sizes[i];
    }, Infinity, budget);
    const seen = await sentPerTurn(sent, done);
    expect(seen).toEqual(afterTurns);
    expect(sent).toEqual(sizes.map((_, i) => i));
  });

  it('the byte budget is 4 MiB', () => {
    expect(FAN_OUT_BYTES_PER_TURN).toBe(4 * 1024 * 1024);
  });
});
