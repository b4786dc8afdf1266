import { canonicalHash, RunTerms, sha256Hex, totalParameters, type SignedRunTerms, type TrainConfig, type WeightsManifest } from '@fedtune/shared';
import { CoordinatorIdentity, signRunTerms } from '@fedtune/coordinator';

/** Signed terms for a scripted coordinator (a test that plays the coordinator): the real SiteClient accepts them. */
export function scriptedTerms(o: { runId: string; rounds: number; topology: Record<string, unknown>; manifest: WeightsManifest; train: Omit<TrainConfig, 'seed'> & { seed?: number }; initialWeights?: Uint8Array; federatedEvaluation?: RunTerms['federatedEvaluation']; secureAggregation?: RunTerms['secureAggregation'] }): SignedRunTerms {
  const { seed: _seed, ...train } = o.train;
  const terms = RunTerms.parse({
    runId: o.runId,
    coordinator: IDENTITY.publicKey,
    rounds: o.rounds,
    minSites: 1,
    fraction: 1,
    model: { architecture: 'custom', topologyHash: canonicalHash(o.topology), initialWeightsHash: sha256Hex(o.initialWeights ?? new Uint8Array()), parameters: totalParameters(o.manifest) },
    train,
    maxExamplesPerSite: 1_000_000,
    federatedEvaluation: o.federatedEvaluation ?? 'never',
    ...(o.secureAggregation ? { secureAggregation: o.secureAggregation } : {}),
  });
  return signRunTerms(terms, IDENTITY);
}

const IDENTITY = CoordinatorIdentity.generate();
