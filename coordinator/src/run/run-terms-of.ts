import { vocabularyHashOf, canonicalHash, encodeWeights, RunTerms, runTermsHash, sha256Hex, totalParameters, type SignedRunTerms, type TrainSettings } from '@fedtune/shared';
import type { CoordinatorIdentity } from '../access/coordinator-identity.ts';
import type { GlobalModel } from '../engine/global-model.ts';
import type { RunConfig } from '../engine/run-config.ts';
import { siteReportTerms, wantsSiteReport } from '../engine/site-report-round.ts';

/**
 * A run's terms (docs/site-policy.md#run-terms): what every site is asked to consent to, built from the run's
 * configuration and model. `train` is the training every fit carries (after the strategy's configureTrain and
 * FedBN's marker); rounds' ε warm-up and seeds are the only per-round variations a site accepts.
 */
export function runTermsOf(config: RunConfig, model: Pick<GlobalModel, 'architecture' | 'topology' | 'manifest' | 'initialWeights' | 'text'>, coordinator: string, train: TrainSettings = config.train): RunTerms {
  const dp = config.dp;
  const secure = config.secureAggregation;
  return {
    runId: config.runId,
    coordinator,
    rounds: config.rounds,
    minSites: config.minSites,
    fraction: config.fraction,
    model: {
      architecture: model.architecture,
      topologyHash: canonicalHash(model.topology),
      initialWeightsHash: sha256Hex(encodeWeights({ manifest: model.manifest, arrays: model.initialWeights })),
      parameters: totalParameters(model.manifest),
      ...(model.text ? { vocabularyHash: vocabularyHashOf(model.text) } : {}),
    },
    train,
    maxExamplesPerSite: config.maxExamplesPerSite,
    ...(secure ? { secureAggregation: { clip: secure.clip, ...(secure.threshold !== undefined ? { threshold: secure.threshold } : {}), ...(secure.neighbours !== undefined ? { neighbours: secure.neighbours } : {}) } } : {}),
    ...(dp ? { dp: { noiseMultiplier: dp.noiseMultiplier, clip: dp.clip, delta: dp.delta, noise: dp.noise ?? (secure ? 'distributed' : 'central') } } : {}),
    federatedEvaluation: config.federatedEvaluation,
    ...(config.calibration.source === 'federated' ? { federatedCalibration: true } : {}),
    ...(wantsSiteReport(config) ? { siteReport: siteReportTerms(config) } : {}),
    ...(config.classNames ? { classNames: config.classNames } : {}),
  };
}

/** The terms with their hash (sha-256 of their canonical JSON) signed by the coordinator's identity. */
export function signRunTerms(input: RunTerms, identity: CoordinatorIdentity): SignedRunTerms {
  // Hashed as a site will see them: parsed by the schema (its defaults filled in, nothing else kept).
  const terms = RunTerms.parse(input);
  const hash = runTermsHash(terms);
  return { terms, hash, signature: identity.signHash(hash) };
}
