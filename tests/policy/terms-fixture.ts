import { RunTerms, runTermsHash, SitePolicy, type FitInstruction, type SignedRunTerms, type SitePolicyInput } from '@fedtune/shared';
import { CoordinatorIdentity } from '@fedtune/coordinator';

export const identity = CoordinatorIdentity.generate();
export const H = (c: string) => c.repeat(64);

/** Terms of a plain run (no DP, no secure aggregation), with `change` applied. */
export function terms(change: (t: RunTerms) => void = () => {}): RunTerms {
  const t = RunTerms.parse({
    runId: 'run-1',
    coordinator: identity.publicKey,
    rounds: 5,
    minSites: 3,
    fraction: 1,
    model: { architecture: 'mlp', topologyHash: H('a'), initialWeightsHash: H('b'), parameters: 1000 },
    train: { epochs: 2, batchSize: 32, learningRate: 0.01, optimizer: 'adam', trainable: 'all', maxExamples: 100 },
    maxExamplesPerSite: 1000,
    federatedEvaluation: 'final',
  });
  change(t);
  return t;
}

export function signed(t: RunTerms, by = identity): SignedRunTerms {
  const hash = runTermsHash(t);
  return { terms: t, hash, signature: by.signHash(hash) };
}

export const policy = (p: SitePolicyInput = {}) => SitePolicy.parse(p);

/** A fit's secure-aggregation instruction: 4 sites, threshold 3, 4 neighbours, clip 1, weighted by examples; `over` changes it. */
export const secAggInstruction = (over: Partial<NonNullable<FitInstruction['secureAggregation']>> = {}) => ({
  attempt: 1,
  sites: ['a', 'b', 'c', 'd'],
  threshold: 3,
  neighbours: 4,
  vectorLength: 10,
  fixedPoint: { range: 1, maxTotalWeight: 1, scale: 1000 },
  clip: 1,
  weighting: 'examples' as const,
  weightDenominator: 10,
  ...over,
});
