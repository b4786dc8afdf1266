import { describe, expect, it } from 'vitest';
import { checkTokenizedWith, siteName, vocabularyHashOf, type SiteEvent } from '@fedtune/shared';
import { pretrainedSpamModelDir, readModelText } from '@fedtune/coordinator';
import { startTestFederation } from '../helpers/federation.ts';

const text = readModelText(pretrainedSpamModelDir())!;
const hash = vocabularyHashOf(text);
const other = { ...text, sequenceLength: text.sequenceLength + 1 };

describe('a site holding token ids checks the run brings their vocabulary', () => {
  it.each([
    ['no check without a hash', undefined, text, undefined],
    ['the same vocabulary', hash, text, undefined],
    ['another vocabulary', hash, other, `site-1's data was tokenized with vocabulary ${hash.slice(0, 16)}…, but the run's model brings vocabulary ${vocabularyHashOf(other).slice(0, 16)}…: this site cannot train it`],
    ['no vocabulary', hash, undefined, `site-1's data was tokenized with vocabulary ${hash.slice(0, 16)}…, but the run's model brings no vocabulary: this site cannot train it`],
  ])('%s', (_what, tokenizedWith, brought, error) => {
    const check = () => checkTokenizedWith(tokenizedWith, brought as never, "site-1's data");
    if (error === undefined) expect(check).not.toThrow();
    else expect(check).toThrow(expect.objectContaining({ code: 'data', message: error }));
  });

  it('a site with token ids offered a model without its vocabulary fails with the line; the other site trains', async () => {
    const failures: Array<{ siteId: string; reason: string }> = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 40,
      holdoutExamples: 100,
      config: { minSites: 1, fraction: 1 },
      siteOptions: (siteId) => (siteId === siteName(0) ? { tokenizedWith: hash } : {}),
      onSiteEvent: (siteId, event: SiteEvent) => {
        if (event.type === 'failed') failures.push({ siteId, reason: event.reason });
      },
    });
    try {
      await Promise.all(siteRuns);
      const report = await coordinator.done;
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((f) => f.siteId === siteName(0) && /tokenized with vocabulary .*no vocabulary: this site cannot train it/.test(f.reason))).toBe(true);
      expect(report.rounds[0]!.accepted.map((a) => a.siteId)).toEqual([siteName(1)]);
    } finally {
      await coordinator.close();
    }
  }, 120_000);
});
