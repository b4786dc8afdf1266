import type * as tf from '@tensorflow/tfjs';
import { nobleSha256OfChunks, type Sha256OfChunks } from '../audit/sha256-hex.ts';
import type { Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import { firstInspectedLayer, inspectModel, type ModelFinding } from '../policy/inspect-model.ts';
import { DEFAULT_SITE_POLICY, type ModelInspectionPolicy } from '../policy/site-policy.ts';

/**
 * The site's model-inspection gate (docs/site-policy.md, "Model inspection"): before training a global
 * model, inspects its first layer on the site's own data and, per the policy, refuses it ('model_refused',
 * with the finding in one line), lets it train with a warning, or does nothing. Results are cached per
 * run, model version, batch size and the first layer's exact weights (a coordinator that resends other
 * weights under the same version is inspected again).
 */
export class ModelInspectionGate {
  /** Made at the first inspection: an idle site holds none. */
  private cache?: Map<string, ModelFinding[]>;

  constructor(
    private readonly policy: ModelInspectionPolicy = DEFAULT_SITE_POLICY.model.inspection,
    /** How the first layer's bytes are hashed for the cache key: @noble/hashes by default (browsers). */
    private readonly sha256: Sha256OfChunks = nobleSha256OfChunks,
  ) {}

  /** Throws FedtuneError('model_refused') for a finding the policy refuses; returns the findings to warn about. */
  check(model: tf.LayersModel, train: Dataset, context: { runId: string; modelVersion: number; batchSize: number }): ModelFinding[] {
    if (this.policy.action === 'off') return [];
    const key = `${context.runId}/${context.modelVersion}/${context.batchSize}/${firstLayerFingerprint(model, this.sha256)}`;
    this.cache ??= new Map();
    let findings = this.cache.get(key);
    if (!findings) {
      findings = inspectModel(model, train, { batchSize: context.batchSize }).findings.filter((f) => !this.policy.allow.includes(f.code));
      if (this.cache.size >= 16) this.cache.clear();
      this.cache.set(key, findings);
    }
    if (findings.length > 0 && this.policy.action === 'refuse') {
      const [first] = findings;
      const more = findings.length > 1 ? ` (and ${findings.slice(1).map((f) => f.code).join(', ')})` : '';
      throw new FedtuneError('model_refused', `model refused by this site's inspection: ${first.code} in layer ${first.layer}: ${first.detail}${more}; a site that accepts it lists "${first.code}" in model.inspection.allow`);
    }
    return findings;
  }
}

/** SHA-256 over the bytes of the inspected layer's weights (the only weights the findings depend on). */
function firstLayerFingerprint(model: tf.LayersModel, sha256: Sha256OfChunks): string {
  const layer = firstInspectedLayer(model);
  if (!layer) return 'none';
  return sha256(
    layer.getWeights().map((w) => {
      const values = w.dataSync() as Float32Array;
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    }),
  );
}
