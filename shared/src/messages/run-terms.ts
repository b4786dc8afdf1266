import { z } from 'zod';
import { TrainConfig } from './schemas.ts';
import { RunClassNames } from '../data/align-class-labels.ts';
import { SiteReportTerms } from './site-report-schemas.ts';

/**
 * A run's terms (docs/site-policy.md): what the coordinator will ask of a site, published before it joins
 * (GET /api/v1/terms, `fedtune client --show-terms`) and sent to every site after 'welcome' as the 'terms'
 * message. A site checks them against its SitePolicy and refuses or accepts; it then checks every instruction
 * against them, so changed terms mid-run are refused. `signature` is the coordinator identity's Ed25519
 * signature over the canonical JSON of `terms` (run-terms-hash.ts).
 */
// The patterns fix the lengths; max(1024) only bounds what a peer's string costs to look at (every string is bounded).
const Sha256Hex = z.string().max(1024).regex(/^[0-9a-f]{64}$/, 'expected a sha-256 hash as 64 lowercase hex digits');
const HexKey = z.string().max(1024).regex(/^[0-9a-f]{64}$/, 'expected an Ed25519 public key as 64 lowercase hex digits');

export const RunTerms = z
  .object({
    runId: z.string().min(1).max(128),
    /** The coordinator identity's Ed25519 public key (hex). */
    coordinator: HexKey,
    rounds: z.number().int().min(1),
    minSites: z.number().int().min(1),
    fraction: z.number().gt(0).max(1),
    model: z.object({
      /** Architecture name when the model is a built-in one ('mlp', 'cnn'); 'custom' otherwise. */
      architecture: z.string().min(1).max(64),
      /** sha-256 of the canonical JSON of the model topology (what a policy pins). */
      topologyHash: Sha256Hex,
      /** sha-256 of the initial (pretrained) weights as encoded by the weights codec. */
      initialWeightsHash: Sha256Hex,
      parameters: z.number().int().min(0),
      /** A text model: sha-256 of the canonical JSON of the 'model' message's text section (its vocabulary). */
      vocabularyHash: Sha256Hex.optional(),
    }),
    /** The training every fit instruction will carry (its per-round seed aside). */
    train: TrainConfig.omit({ seed: true }),
    /** Most examples a site may claim for one update. */
    maxExamplesPerSite: z.number().int().min(1),
    secureAggregation: z.object({ clip: z.number().positive(), threshold: z.number().int().min(1).optional(), neighbours: z.number().int().min(2).optional() }).optional(),
    /** Client-level DP (DP-FedAvg): who adds the noise ('central': the coordinator; 'distributed': each site adds its share under secure aggregation). */
    dp: z.object({ noiseMultiplier: z.number().min(0), clip: z.number().positive(), delta: z.number().gt(0).lt(1), noise: z.enum(['central', 'distributed']) }).optional(),
    /** What the sites are asked to report beyond training: federated evaluation, per-site robustness, personalisation (aggregates only). */
    federatedEvaluation: z.enum(['never', 'final', 'every-round']),
    /** Whether the coordinator may ask the sites for temperature-scaling sums (an 'evaluate' with calibration; config calibration.source 'federated'). */
    federatedCalibration: z.boolean().optional(),
    /** The per-site report the coordinator asks every site for after the final round (personalisation, per-site robustness): exactly these settings, seeds aside. */
    siteReport: SiteReportTerms.optional(),
    /** The run's class names (index → name): a site whose named labels are not all among them refuses the terms. */
    classNames: RunClassNames.optional(),
  })
  .strict();
export type RunTerms = z.output<typeof RunTerms>;

export const SignedRunTerms = z.object({
  terms: RunTerms,
  /** sha-256 of the canonical JSON of `terms`, hex. */
  hash: Sha256Hex,
  /** Ed25519 signature of `hash` by `terms.coordinator`, hex. */
  signature: z.string().max(1024).regex(/^[0-9a-f]{128}$/, 'expected an Ed25519 signature as 128 lowercase hex digits'),
});
export type SignedRunTerms = z.output<typeof SignedRunTerms>;

const SiteId = z.string().min(1).max(128).regex(/^[A-Za-z0-9._-]+$/);

/** Site → coordinator, after 'terms': the site accepts the terms with this hash (only then does it count as joined). */
export const AcceptTerms = z.object({ runId: z.string().min(1).max(128), siteId: SiteId, hash: Sha256Hex });
export type AcceptTerms = z.output<typeof AcceptTerms>;

/** Site → coordinator, after 'terms': the site's policy refuses them (it closes the connection after). */
export const RefuseTerms = z.object({
  runId: z.string().min(1).max(128),
  siteId: SiteId,
  code: z.string().max(64).regex(/^[a-z][a-z0-9_]*$/),
  reason: z.string().max(2000),
});
export type RefuseTerms = z.output<typeof RefuseTerms>;
