import { toFedtuneError } from '../errors.ts';
import type { RunTerms } from '../messages/run-terms.ts';
import { siteTrainConfig, type SiteAdversarialSettings } from './site-train-config.ts';

/**
 * Why a site's own adversarial settings (`fedtune client --adv-*`) cannot apply to the run its terms describe —
 * the reason the site refuses the terms at join — or undefined when they can. The terms carry the training every
 * fit instruction will carry, so a site whose settings every round would fail on (an --adv-steps without ε
 * against a run without adversarial training, a TRADES β against the run's PGD) leaves the run at once instead
 * of joining, counting toward the quorum and failing every round.
 */
export function siteAdversarialTermsRefusal(terms: RunTerms, site: SiteAdversarialSettings | undefined): string | undefined {
  if (!site || Object.keys(site).length === 0) return undefined;
  try {
    siteTrainConfig({ ...terms.train, seed: 0 }, site, 1);
    return undefined;
  } catch (err) {
    return toFedtuneError(err).message;
  }
}
