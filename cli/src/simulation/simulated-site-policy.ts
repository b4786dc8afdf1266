import { SitePolicy } from '@fedtune/shared';

/**
 * The policy of the sites a simulation (`fedtune simulate`) or a worker (`fedtune worker`) makes: the default
 * policy, except that their metrics may cover few examples (privacy.minExamplesPerMetric 1). Their data is the
 * public built-in pool, drawn for the operator's own test: a virtual site of 40 digits holds a test split of 4,
 * and there is no one's private data a small metric could give away. Real sites (`fedtune client`) keep the
 * default bound.
 */
export const SIMULATED_SITE_POLICY: SitePolicy = SitePolicy.parse({ privacy: { minExamplesPerMetric: 1 } });
