import { FedtuneError } from '../errors.ts';
import { AdversarialTraining, type TrainConfig } from '../messages/schemas.ts';
import { warmedUpTrain } from '../learning/adversarial-warmup.ts';

/** A site's own adversarial-training settings (`fedtune client --adv-*`): each field given overrides the coordinator's. */
export type SiteAdversarialSettings = Partial<AdversarialTraining>;

/**
 * The training config a site fits with: the coordinator's instruction, with the site's own adversarial
 * settings over it (site flag > coordinator instruction). The coordinator's ε arrives already warmed up for
 * the round; a site that sets its own ε ramps it with its own warm-up (or the coordinator's) for `round`.
 * A site that sets fields but no ε, under an instruction without adversarial training, gets a config error;
 * `share: 0` opts the site out.
 */
export function siteTrainConfig(config: TrainConfig, site: SiteAdversarialSettings | undefined, round: number): TrainConfig {
  if (!site || Object.keys(site).length === 0) return config;
  const eps = site.eps ?? config.adversarial?.eps;
  if (eps === undefined) throw new FedtuneError('config', "this site's adversarial settings need an ε (--adv-eps): the coordinator's instruction has no adversarial training", { shareable: true });
  const parsed = AdversarialTraining.safeParse({ ...config.adversarial, ...site, eps });
  if (!parsed.success) {
    // Stryker disable next-line StringLiteral: equivalent: every field of AdversarialTraining is one key deep, so an issue's path has one element and the separator never shows.
    const field = (path: readonly PropertyKey[]) => path.join('.');
    throw new FedtuneError('config', `this site's adversarial settings: ${parsed.error.issues.map((i) => `${field(i.path)}: ${i.message}`).join('; ').slice(0, 500)}`, { shareable: true });
  }
  const merged = { ...config, adversarial: parsed.data };
  return site.eps !== undefined ? warmedUpTrain(merged, round) : merged;
}
