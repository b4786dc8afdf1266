import { describe, expect, it } from 'vitest';
import { FAN_OUT_CHUNK, pacedFanOut } from '../../coordinator/src/transport/paced-fan-out.ts';

const turn = () => new Promise<void>((r) => setImmediate(r));

describe('paced fan-out', () => {
  it.each<[string, number | undefined, number[]]>([
    ['chunks of 2', 2, [2, 4, 5]],
    [`the default chunk (${FAN_OUT_CHUNK})`, undefined, [5, 5, 5]],
    ['no pacing (Infinity, as under secure aggregation)', Infinity, [5, 5, 5]],
  ])('%s: sends in order, a chunk per turn of the event loop', async (_, chunk, afterTurns) => {
    const sent: number[] = [];
    const done = pacedFanOut([1, 2, 3, 4, 5], (x) => void sent.push(x), chunk);
    const seen: number[] = [];
    for (let k = 0; k < 3; k++) {
      seen.push(sent.length);
      await turn();
    }
    await done;
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
});
