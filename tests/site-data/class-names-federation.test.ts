import { it, expect } from 'vitest';
import { deriveSeed, splitDataset, type Dataset, type SiteEvent, type Splits } from '@fedtune/shared';
import { builtinDigitsSites } from '@fedtune/shared/node';
import { head, startTestFederation } from '../helpers/federation.ts';

const NAMES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const SITES = 20;
const SEED = 7;

/** Site k's splits as startTestFederation makes them, relabelled as a loader of named labels would: its own sorted names. */
function namedSite(k: number): { data: Splits; names: string[] } {
  const full = builtinDigitsSites({ sites: SITES, partition: { kind: 'dirichlet', alpha: 1 }, seed: SEED })[k];
  const siteId = `site-${k + 1}`;
  const splits = splitDataset(head(full, 40), deriveSeed(SEED, 'split', siteId));
  const present = new Set<number>();
  for (const s of [splits.train, splits.validation, splits.test]) for (const y of s.y) present.add(y);
  const names = [...present].map((c) => NAMES[c]).sort();
  const local = (ds: Dataset): Dataset => ({ ...ds, y: Int32Array.from(ds.y, (c) => names.indexOf(NAMES[c])), numClasses: names.length });
  return { data: { train: local(splits.train), validation: local(splits.validation), test: local(splits.test) }, names };
}

async function finalAccuracy(named: boolean, onSiteEvent?: (siteId: string, e: SiteEvent) => void): Promise<number> {
  const fed = await startTestFederation({
    sites: SITES,
    rounds: 1,
    transport: 'socket',
    maxSiteExamples: 40,
    holdoutExamples: 100,
    ...(named ? { config: { classNames: NAMES } } : {}),
    ...(onSiteEvent ? { onSiteEvent } : {}),
    ...(named
      ? {
          siteOptions: (siteId: string) => {
            const site = namedSite(Number(siteId.split('-')[1]) - 1);
            return { data: site.data, siteClasses: { names: site.names, source: `${siteId}/` } };
          },
        }
      : {}),
  });
  try {
    const report = await fed.coordinator.done;
    await Promise.all(fed.siteRuns);
    expect(report.status).toBe('complete');
    return report.final!.accuracy;
  } finally {
    await fed.coordinator.close();
  }
}

// 20 real sites over socket.io, each numbering its own named labels by sorting (most lack some digits under
// Dirichlet(1) with 40 examples): with the run's class names they renumber to the run's order and the run is
// bit-identical to the same federation on the original integer labels.
it('20 sites with named labels, most missing classes, train exactly as on aligned integer labels (socket.io)', { timeout: 300_000 }, async () => {
  const aligned = new Map<string, string[]>();
  const named = await finalAccuracy(true, (siteId, e) => {
    if (e.type === 'classes-aligned') aligned.set(siteId, e.missing);
  });
  const numeric = await finalAccuracy(false);
  expect(named).toBe(numeric);
  expect(aligned.size).toBe(SITES);
  for (let k = 0; k < SITES; k++) {
    const { names } = namedSite(k);
    expect(aligned.get(`site-${k + 1}`)).toEqual(NAMES.filter((n) => !names.includes(n)));
  }
  // The federation is one where the per-site numbering would have differed from the run's.
  expect([...aligned.values()].filter((missing) => missing.length > 0).length).toBeGreaterThan(5);
});
