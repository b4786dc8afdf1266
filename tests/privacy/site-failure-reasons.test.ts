import { describe, expect, it } from 'vitest';
import { FedtuneError, fitDatasetToModel, type FedtuneErrorCode } from '@fedtune/shared';
import { CLASSES_REFUSED_REASON, wireFailureReason } from '../../shared/src/client/wire-reasons.ts';
import { startTestFederation } from '../helpers/federation.ts';
import type { SiteEvent } from '../../shared/src/client/site-client.ts';

/**
 * What a site tells the coordinator when it fails or refuses: never its own paths, file names or data values.
 * Found by an attacker's review: an honest site whose CSV held a label the run does not name refused the terms with
 * "runs-e/private-cohort-StMarys/patients-smith-john.csv: label "HIV-positive" is not a class of this run", and a
 * personal model that could not be saved sent its absolute path; the coordinator kept both in its console, log,
 * report.json and audit log. Now the wire carries a fixed sentence for anything about the site's own side.
 */
const PRIVATE = '/home/dr-jane-doe/private-cohort-StMarys/patients-smith-john.csv: label "HIV-positive"';

describe('wireFailureReason: the words of an error about the coordinator\'s side, a fixed sentence for the site\'s', () => {
  it.each<[FedtuneErrorCode, boolean]>([
    ['shape_mismatch', true], ['dtype_mismatch', true], ['stale_round', true], ['not_selected', true], ['malformed_payload', true],
    ['payload_too_large', true], ['codec', true], ['update_encoding', true], ['model_integrity', true], ['model_refused', true],
    ['policy_refused', true], ['privacy_budget', true], ['unauthorized', true], ['rate_limited', true],
    ['data', false], ['persistence', false], ['config', false], ['backend', false], ['non_finite', false], ['timeout', false],
    ['transport', false], ['internal', false], ['invalid_count', false], ['update_norm', false], ['not_found', false], ['quorum_not_met', false],
  ])('%s: its own message on the wire: %s', (code, kept) => {
    const reason = wireFailureReason(new FedtuneError(code, PRIVATE));
    if (kept) expect(reason).toBe(PRIVATE);
    else {
      expect(reason).not.toContain('StMarys');
      expect(reason).not.toContain('HIV');
      expect(reason).toMatch(new RegExp(`\\(${code}; the details stay in the site's own log\\)$`));
    }
  });

  it('an error marked shareable keeps its words whatever its code; fitDatasetToModel\'s are', () => {
    expect(wireFailureReason(new FedtuneError('data', "site-4's data has 31 features per example", { shareable: true }))).toBe("site-4's data has 31 features per example");
    expect(wireFailureReason(new FedtuneError('data', "site-4's data has 31 features per example", { shareable: false }))).toBe("the site's data could not be used (data; the details stay in the site's own log)");
    let thrown: unknown;
    try {
      fitDatasetToModel({ x: new Float32Array(31), y: Int32Array.from([0]), featureShape: [31], numClasses: 2 }, { inputShape: [30], numClasses: 2 }, "site-4's data");
    } catch (err) {
      thrown = err;
    }
    expect(wireFailureReason(thrown as FedtuneError)).toBe("site-4's data has 31 features per example (shape [31]) but the model expects 30 (input shape [30])");
  });

  it.each<[FedtuneErrorCode, string]>([
    ['data', "the site's data could not be used"],
    ['persistence', 'the site could not write a file'],
    ['config', "the site's configuration does not allow it"],
    ['backend', "the site's tfjs backend failed"],
    ['non_finite', 'training produced non-finite values'],
    ['timeout', 'the site timed out'],
    ['transport', 'the site lost its connection'],
    ['internal', 'the site failed'],
    ['update_norm', 'the site failed'],
  ])('%s: "%s (…)"', (code, sentence) => {
    expect(wireFailureReason(new FedtuneError(code, PRIVATE))).toBe(`${sentence} (${code}; the details stay in the site's own log)`);
  });

  it('the fixed sentences by code; a kept message is clipped (within the wire\'s 2000 characters)', () => {
    expect(wireFailureReason(new FedtuneError('data', PRIVATE))).toBe("the site's data could not be used (data; the details stay in the site's own log)");
    expect(wireFailureReason(new FedtuneError('persistence', PRIVATE))).toBe("the site could not write a file (persistence; the details stay in the site's own log)");
    expect(wireFailureReason(new FedtuneError('internal', PRIVATE))).toBe("the site failed (internal; the details stay in the site's own log)");
    expect(wireFailureReason(new FedtuneError('model_refused', 'x'.repeat(5000))).length).toBeLessThanOrEqual(2000);
  });
});

describe('over a federation: a site whose personal model cannot be saved', () => {
  it('the coordinator\'s report says only that a file could not be written; the site\'s own event has the path', async () => {
    const events: SiteEvent[] = [];
    const { coordinator, siteRuns } = await startTestFederation({
      sites: 2,
      rounds: 1,
      transport: 'memory',
      maxSiteExamples: 60,
      config: { minSites: 2, federatedEvaluation: 'never', personalization: { mode: 'head', epochs: 1, localOnly: false } },
      siteOptions: (siteId) => (siteId === 'site-2' ? { onPersonalModel: async () => { throw new FedtuneError('persistence', `${PRIVATE}/personal: EACCES`); } } : {}),
      onSiteEvent: (siteId, e) => siteId === 'site-2' && events.push(e),
    });
    const report = await coordinator.done;
    await Promise.allSettled(siteRuns);
    await coordinator.close();
    expect(report.status, report.aborted).toBe('complete');
    const missing = report.siteReport!.missing!.find((m) => m.siteId === 'site-2')!;
    expect(missing.reason).toContain("the site could not write a file (persistence; the details stay in the site's own log)");
    expect(JSON.stringify(report)).not.toMatch(/StMarys|HIV|dr-jane-doe/);
    const failed = events.find((e): e is Extract<SiteEvent, { type: 'failed' }> => e.type === 'failed');
    expect(failed?.reason).toContain('private-cohort-StMarys');
  }, 120_000);
});

describe('a site refusing the terms over its classes', () => {
  it('tells the coordinator a fixed sentence', () => {
    expect(CLASSES_REFUSED_REASON).toBe("a label in this site's data is not a class of this run (the site's own log says which)");
  });
});
