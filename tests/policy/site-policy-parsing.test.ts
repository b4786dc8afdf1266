import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SITE_POLICY, SitePolicy, sitePolicyFrom } from '@fedtune/shared';
import { thrownCodeAndMessage } from '../helpers/thrown.ts';
import { browserSitePolicy, loweredProtections, parseJoinLink } from '../../client-web/src/join-link.ts';
import { loadSitePolicyFile } from '../../cli/src/commands/site-policy-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'fedtune-policy-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('site policy files (fedtune client --policy)', () => {
  it('reads YAML and JSON into the same policy', () => {
    const yaml = loadSitePolicyFile(file('p.yaml', 'training:\n  maxRounds: 3\nprivacy:\n  require: record\n'));
    const json = loadSitePolicyFile(file('p.json', '{"training":{"maxRounds":3},"privacy":{"require":"record"}}'));
    expect(yaml).toEqual(json);
    expect(yaml.training.maxRounds).toBe(3);
    expect(yaml.privacy.require).toBe('record');
    // Defaults filled in: model inspection refuses by default.
    expect(yaml.model.inspection.action).toBe('refuse');
  });

  it('an empty file is the default policy', () => {
    expect(loadSitePolicyFile(file('empty.yaml', ''))).toEqual(DEFAULT_SITE_POLICY);
  });

  it.each([
    ['a wrong type', 'training:\n  maxRounds: three\n', /bad\.yaml: training\.maxRounds: /],
    ['an unknown field (a typo is not silently ignored)', 'training:\n  maxRound: 3\n', /bad\.yaml: training: .*maxRound/],
    ['an out-of-range value', 'privacy:\n  maxDelta: 2\n', /bad\.yaml: privacy\.maxDelta: /],
    ['a malformed coordinator key', 'coordinators: [abc]\n', /bad\.yaml: coordinators\.0: expected an Ed25519 public key/],
    ['not YAML', 'training: [\n', /bad\.yaml: not valid YAML or JSON/],
  ])('%s: one line naming the file and the field', (_n, text, pattern) => {
    const path = file('bad.yaml', text);
    let message = '';
    try {
      loadSitePolicyFile(path);
    } catch (err) {
      message = (err as Error).message;
      expect((err as { code?: string }).code).toBe('config');
    }
    expect(message).toMatch(pattern);
    expect(message).not.toMatch(/\n/);
  });

  it('a missing file says so', () => {
    expect(() => loadSitePolicyFile(join(dir, 'nope.yaml'))).toThrow(/cannot read the site policy .*nope\.yaml: ENOENT/);
  });

  it('sitePolicyFrom names its source', () => {
    expect(() => sitePolicyFrom({ aggregation: { minSites: 0 } }, 'here')).toThrow(/^here: aggregation\.minSites: /);
  });
});

describe('the browser site\'s policy (join link ?policy=)', () => {
  it('a join link carries the policy as JSON, parsed into the same SitePolicy', () => {
    const policy = { training: { maxEpochs: 1 }, aggregation: { requireSecureAggregation: true } };
    const link = parseJoinLink(`https://coord.example/site/?site=b1&policy=${encodeURIComponent(JSON.stringify(policy))}`);
    expect(link.site).toBe('b1');
    const parsed = browserSitePolicy(link.policy)!;
    expect(parsed.training.maxEpochs).toBe(1);
    expect(parsed.aggregation.requireSecureAggregation).toBe(true);
    expect(parsed).toEqual(sitePolicyFrom(policy, 'x'));
  });

  it('no policy parameter: the default policy (undefined)', () => {
    expect(parseJoinLink('https://coord.example/site/?site=b1').policy).toBeUndefined();
    expect(browserSitePolicy(undefined)).toBeUndefined();
    expect(browserSitePolicy('  ')).toBeUndefined();
  });

  // A join link comes from whoever invites the site, usually the coordinator: it may add limits, never lower a default.
  it.each([
    ['model inspection off', { model: { inspection: { action: 'off' } } }, "model inspection set to 'off'"],
    ['model inspection a warning', { model: { inspection: { action: 'warn' } } }, "model inspection set to 'warn'"],
    ['a finding allowed', { model: { inspection: { allow: ['wide_first_layer'] } } }, 'model inspection findings allowed (1)'],
    ['more activations per example', { model: { maxActivationsPerExample: 262_145 } }, 'model.maxActivationsPerExample raised to 262145'],
    ['metrics over fewer examples', { privacy: { minExamplesPerMetric: 19 } }, 'privacy.minExamplesPerMetric lowered to 19'],
    ['the data summary shared', { data: { shareSummary: true } }, 'data.shareSummary on'],
    ['feature names shared', { data: { shareFeatureNames: true } }, 'data.shareFeatureNames on'],
  ])('a link lowering a default protection is refused (%s), one line naming it', (_n, policy, phrase) => {
    const text = JSON.stringify(policy);
    expect(loweredProtections(sitePolicyFrom(policy, 'x'))).toEqual([phrase]);
    expect(thrownCodeAndMessage(() => browserSitePolicy(text))).toEqual({
      code: 'config',
      message: `the site policy (?policy=) would lower this site's protections: ${phrase}. A join link can only add limits (it comes from whoever invites the site); join without ?policy= or with one that only tightens`,
    });
  });

  it('several lowered at once are all named; a policy that only tightens is taken', () => {
    expect(loweredProtections(sitePolicyFrom({ model: { inspection: { action: 'off' } }, data: { shareSummary: true, shareFeatureNames: true } }, 'x'))).toEqual(["model inspection set to 'off'", 'data.shareSummary on', 'data.shareFeatureNames on']);
    const tight = { model: { inspection: { action: 'refuse' }, maxActivationsPerExample: 262_144 }, privacy: { minExamplesPerMetric: 20, require: 'record' }, data: { shareSummary: false }, coordinators: ['a'.repeat(64)] };
    expect(loweredProtections(sitePolicyFrom(tight, 'x'))).toEqual([]);
    expect(browserSitePolicy(JSON.stringify(tight))).toEqual(sitePolicyFrom(tight, 'x'));
    expect(browserSitePolicy(JSON.stringify({ model: { maxActivationsPerExample: 1000 }, privacy: { minExamplesPerMetric: 50 } }))?.privacy.minExamplesPerMetric).toBe(50);
  });

  it.each([
    ['not JSON', '{training', /the site policy \(\?policy=\): not valid JSON/],
    ['a bad field', '{"training":{"maxEpochs":0}}', /the site policy \(\?policy=\): training\.maxEpochs: /],
  ])('%s: one clear line', (_n, text, pattern) => {
    expect(() => browserSitePolicy(text)).toThrow(pattern);
  });
});

describe('privacy.minExamplesPerMetric', () => {
  it('defaults to 20, on for every site that sets nothing', () => {
    expect(DEFAULT_SITE_POLICY.privacy.minExamplesPerMetric).toBe(20);
    expect(loadSitePolicyFile(file('min-default.yaml', 'training:\n  maxRounds: 3\n')).privacy.minExamplesPerMetric).toBe(20);
  });

  it('takes 1 at least, whole numbers only', () => {
    expect(loadSitePolicyFile(file('min-1.yaml', 'privacy:\n  minExamplesPerMetric: 1\n')).privacy.minExamplesPerMetric).toBe(1);
    expect(() => loadSitePolicyFile(file('min-0.yaml', 'privacy:\n  minExamplesPerMetric: 0\n'))).toThrow(/min-0\.yaml: privacy\.minExamplesPerMetric: /);
    expect(() => loadSitePolicyFile(file('min-half.yaml', 'privacy:\n  minExamplesPerMetric: 2.5\n'))).toThrow(/privacy\.minExamplesPerMetric: /);
  });

  it("the site's own training.maxExamplesPerRound may not go below it (its training metrics would cover that few)", () => {
    expect(SitePolicy.safeParse({ training: { maxExamplesPerRound: 20 } }).success).toBe(true);
    const below = SitePolicy.safeParse({ training: { maxExamplesPerRound: 19 } });
    expect(below.success).toBe(false);
    expect(below.error!.issues[0]).toMatchObject({ path: ['training', 'maxExamplesPerRound'], message: '19 is below privacy.minExamplesPerMetric 20: the training metrics of every round would cover that few examples (lower privacy.minExamplesPerMetric to allow it)' });
    expect(SitePolicy.safeParse({ training: { maxExamplesPerRound: 5 }, privacy: { minExamplesPerMetric: 5 } }).success).toBe(true);
  });
});
