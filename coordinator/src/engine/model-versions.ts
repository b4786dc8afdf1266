import { sha256OfBytes } from '../audit/audit-recorder.ts';

/** One global model version as served over HTTP: its encoded bytes (weights codec) and their sha-256. */
export interface ServedModelVersion {
  version: number;
  bytes: Uint8Array;
  sha256: string;
}

/**
 * The global model versions the coordinator serves at GET /api/v1/models/:version/weights
 * (model-weights-route.ts): the latest `keep` versions published by the round engine, so a site that fetches
 * a little late still finds the version its instruction names. Memory: `keep` encoded models.
 */
export class ModelVersions {
  private readonly versions = new Map<number, ServedModelVersion>();
  private readonly listeners: Array<(served: ServedModelVersion) => void> = [];

  constructor(private readonly keep = 2) {}

  /** Publishes `bytes` as `version` (hashed once; publishing the same version again replaces it). */
  publish(version: number, bytes: Uint8Array): ServedModelVersion {
    const existing = this.versions.get(version);
    if (existing && existing.bytes === bytes) return existing;
    const served = { version, bytes, sha256: sha256OfBytes(bytes) };
    this.versions.delete(version);
    this.versions.set(version, served);
    for (const listener of this.listeners) listener(served);
    while (this.versions.size > this.keep) this.versions.delete(this.versions.keys().next().value!);
    return served;
  }

  /** Called with each newly published version (a cluster's leader passes it on to the other nodes: cluster-model-versions.ts). */
  onPublished(listener: (served: ServedModelVersion) => void): void {
    this.listeners.push(listener);
  }

  get(version: number): ServedModelVersion | undefined {
    return this.versions.get(version);
  }
}
