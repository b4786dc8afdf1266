import type { RoundRecord } from '@fedtune/shared';
import { PointColumns } from './point-columns.ts';
import { foldSettledPrefix } from './settled-prefix-fold.ts';

/** One site's own training loss and accuracy: [round, value] of each finite value it reported, in round order. */
export interface SiteCurveColumns {
  siteId: string;
  loss: PointColumns;
  accuracy: PointColumns;
}

/** Every site's curves over some rounds, in order of each site's first appearance. */
export type SiteCurvesById = Map<string, SiteCurveColumns>;

function addRound(sites: SiteCurvesById, r: RoundRecord): SiteCurvesById {
  for (const a of r.accepted) {
    let c = sites.get(a.siteId);
    if (!c) sites.set(a.siteId, (c = { siteId: a.siteId, loss: new PointColumns(), accuracy: new PointColumns() }));
    if (Number.isFinite(a.loss)) c.loss.push(r.round, a.loss);
    if (Number.isFinite(a.accuracy)) c.accuracy.push(r.round, a.accuracy);
  }
  return sites;
}

/**
 * Every site's training curves over `rounds`, in two parts: those of the settled prefix (kept from render to render and
 * extended by the rounds settled since, settled-prefix-fold.ts: read them, never change them) and those of the
 * unsettled rest (folded anew on every call; new sites come after the settled part's). A site's curve is its settled
 * part's points then its unsettled part's (`PointColumns.joined`). Every site's points are kept, not only the drawn
 * ones', as the drawn sites change with their last accuracies: 32 bytes a site a round (two numbers for each of two
 * metrics), a fraction of the round record's own entry and of its cached report.json and checkpoint text.
 */
export function siteCurvesAfter(rounds: readonly RoundRecord[]): { settled: SiteCurvesById; unsettled: SiteCurvesById } {
  const { state: settled, settled: count } = foldSettledPrefix(rounds, 'site-curves', () => new Map() as SiteCurvesById, addRound);
  const unsettled: SiteCurvesById = new Map();
  for (let i = count; i < rounds.length; i++) addRound(unsettled, rounds[i]);
  return { settled, unsettled };
}
