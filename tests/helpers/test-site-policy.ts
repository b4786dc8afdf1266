import { SitePolicy, type SitePolicyInput } from '@fedtune/shared';

/**
 * The policy of a test federation's site: `given` (default: the default policy), except that its metrics may
 * cover few examples (privacy.minExamplesPerMetric 1) unless `given` sets that bound itself. Test sites hold a
 * few dozen public digits (a 40-example site has a test split of 4), honest and not private; tests of the bound
 * set it in their policies.
 */
export function testSitePolicy(given: SitePolicyInput = {}): SitePolicy {
  return SitePolicy.parse({ ...given, privacy: { minExamplesPerMetric: 1, ...given.privacy } });
}
