import type { RoundRecord } from '@fedtune/shared';
import { isSettled } from '../persistence/settled-rounds.ts';

/**
 * report.html is rendered again every REPORT_HTML_INTERVAL_MS during a run, from every round record, and a record
 * holds an entry per site: rendering all of them each time grew with the rounds. A settled record (frozen, nothing
 * changes it any more: settled-rounds.ts) renders to the same fragment every time, so each of its fragments is
 * rendered once and kept for as long as the record lives. `key` names the fragment and whatever else shapes it (e.g.
 * whether the rounds table has an ε column). An unsettled record is rendered every time.
 */
const fragments = new WeakMap<object, Map<string, unknown>>();

/** `render(record)`, computed once per `key` for a settled record. */
export function settledRecordFragment<T>(record: RoundRecord, key: string, render: (record: RoundRecord) => T): T {
  if (!isSettled(record)) return render(record);
  let byKey = fragments.get(record);
  if (!byKey) fragments.set(record, (byKey = new Map()));
  if (byKey.has(key)) return byKey.get(key) as T;
  const fragment = render(record);
  byKey.set(key, fragment);
  return fragment;
}
