import { decodeWeights, FedtuneError, type Weights } from '@fedtune/shared';
import type { ServedModelVersion } from '../engine/model-versions.ts';

/** Where the versions come from: a node's ClusterModelVersions (or anything with its `get`). */
export interface ModelVersionSource {
  get(version: number): Promise<ServedModelVersion | undefined> | ServedModelVersion | undefined;
}

/**
 * The decoded global weights of model `version` on this node (a follower validating its own sites' updates
 * against the weights they trained from: follower-round-partial.ts's FollowerRoundPlan.global + manifest).
 * The bytes come from `versions` (memory, else Redis: cluster-model-versions.ts). With `sha256` (the one the
 * leader's plan or instruction names) the version must be those bytes (hashed when stored), and at most `maxBytes`
 * long ('payload_too_large'). Throws FedtuneError 'not_found' when the
 * cluster does not hold the version, 'model_integrity' when the hash differs, 'codec' when the bytes are not
 * weights. The arrays are views of the stored bytes: read them, never write them.
 */
export async function globalWeightsForVersion(version: number, versions: ModelVersionSource, sha256?: string, maxBytes = Infinity): Promise<Weights> {
  const served = await versions.get(version);
  if (!served) throw new FedtuneError('not_found', `model version ${version} is not held in this cluster (it is published by the leader when a round sends it)`);
  if (served.bytes.byteLength > maxBytes) throw new FedtuneError('payload_too_large', `model version ${version} is ${served.bytes.byteLength} bytes, above ${maxBytes}`);
  if (sha256 !== undefined && served.sha256 !== sha256) throw new FedtuneError('model_integrity', `model version ${version} has sha-256 ${served.sha256.slice(0, 16)}…, not the ${sha256.slice(0, 16)}… asked for`);
  return decodeWeights(served.bytes);
}
