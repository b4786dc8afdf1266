import { describe, expect, it } from 'vitest';
import { RedisRecoveryReport } from '../../coordinator/src/cluster/redis-recovery-report.ts';

type Step = ['lost'] | ['restored', number, boolean] | ['reestablished', number] | ['renewed', number];

function lines(steps: Step[]): string[] {
  const out: string[] = [];
  const r = new RedisRecoveryReport('redis://127.0.0.1:6400', 'node-1', (l) => out.push(l));
  for (const s of steps) {
    if (s[0] === 'lost') r.lost();
    else if (s[0] === 'restored') r.restored(s[1], s[2]);
    else if (s[0] === 'reestablished') r.reestablished(s[1]);
    else r.renewed(s[1]);
  }
  return out;
}

const BACK = 'cluster recovered: Redis at redis://127.0.0.1:6400 is back after 2.3 s; node node-1';

describe('RedisRecoveryReport: one "cluster recovered" line per outage, whatever order its parts arrive in', () => {
  it.each<[string, Step[], string[]]>([
    ['follower: on the connection\'s return', [['lost'], ['restored', 2345, false]], [`${BACK} follows the leader`]],
    ['leader, lease re-taken after the return', [['lost'], ['restored', 2345, true], ['reestablished', 4], ['renewed', 4]], [`${BACK} leads again (lease re-established, fencing token 4)`]],
    ['leader, lease re-taken BEFORE the client says it is back (the race that printed two lines)', [['lost'], ['reestablished', 4], ['restored', 2345, true], ['renewed', 4]], [`${BACK} leads again (lease re-established, fencing token 4)`]],
    ['leader, lease kept by Redis: the first renewal after the return', [['lost'], ['renewed', 3], ['restored', 2345, true], ['renewed', 3], ['renewed', 3]], [`${BACK} still leads (fencing token 3)`]],
    ['renewals with no outage say nothing', [['renewed', 3], ['renewed', 3]], []],
    ['a lease re-taken with no outage seen (it expired)', [['reestablished', 5]], ['cluster recovered: Redis at redis://127.0.0.1:6400 had lost the lease; node node-1 leads again (lease re-established, fencing token 5)']],
    ['two outages, two lines', [['lost'], ['restored', 2345, false], ['lost'], ['lost'], ['restored', 2345, true], ['renewed', 2]], [`${BACK} follows the leader`, `${BACK} still leads (fencing token 2)`]],
    ['a return with no loss seen still makes one line', [['restored', 2345, false]], [`${BACK} follows the leader`]],
  ])('%s', (_what, steps, expected) => {
    expect(lines(steps)).toEqual(expected);
  });
});
