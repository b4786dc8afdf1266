import type { RoundRecord } from '@fedtune/shared';
import { settledPrefixLength } from '../persistence/settled-rounds.ts';

/** What a fold has made of a run's settled rounds (`records`, the first `records.length` of its rounds). */
interface Fold {
  records: RoundRecord[];
  state: unknown;
}

/**
 * Each run's folds of its settled rounds, by name, kept under the last record each folds. A fold is reused only if
 * every record it folds is, by identity, the report's own at the same place (a report that is not the same run, or a
 * resumed run's records decoded anew, fold from scratch); it is then extended with the rounds settled since and moved
 * under the new last record, so only the newest fold of a run is kept per name. Settled records are frozen (nothing
 * changes them), so what was folded from them stays true.
 */
const folds = new WeakMap<object, Map<string, Fold>>();

/**
 * `add` applied to `init()` and each settled round of `rounds` in order (the settled prefix, settled-rounds.ts), kept
 * from call to call under `name`: a call folds only the rounds settled since the previous one, so what it costs grows
 * with those rounds, not with all of them. `add` may change the state it is given and return it (the state is the
 * fold's own: callers read it, never change it) or return a new one (a string). `name` says everything besides the
 * records that shapes the state (e.g. a table's columns): two folds of different states need different names.
 */
export function foldSettledPrefix<S>(rounds: readonly RoundRecord[], name: string, init: () => S, add: (state: S, record: RoundRecord) => S): { state: S; settled: number } {
  const settled = settledPrefixLength(rounds);
  if (settled === 0) return { state: init(), settled };
  let fold: Fold | undefined;
  for (let k = settled - 1; k >= 0 && !fold; k--) {
    const f = folds.get(rounds[k])?.get(name);
    if (f && f.records.length === k + 1 && f.records.every((r, i) => r === rounds[i])) fold = f;
  }
  fold ??= { records: [], state: init() };
  const from = fold.records.length;
  if (from === settled) return { state: fold.state as S, settled };
  if (from > 0) folds.get(fold.records[from - 1])?.delete(name);
  let state = fold.state as S;
  for (let i = from; i < settled; i++) {
    state = add(state, rounds[i]);
    fold.records.push(rounds[i]);
  }
  fold.state = state;
  const last = rounds[settled - 1];
  let byName = folds.get(last);
  if (!byName) folds.set(last, (byName = new Map()));
  byName.set(name, fold);
  return { state, settled };
}
