import { BLOB_AS_BUFFER } from './redis-blob-as-buffer.ts';
import { clipText } from '@fedtune/shared';
import { sha256OfBytes } from '../audit/audit-recorder.ts';
import type { ServedModelVersion } from '../engine/model-versions.ts';
import type { ClusterRedis } from './redis-connection.ts';
import type { ClusterMessageMac } from './cluster-message-mac.ts';

export interface ClusterModelVersionsOptions {
  redis: ClusterRedis;
  /** The cluster's key prefix (ClusterOptions.prefix): versions live at `<prefix>:model:<version>`. */
  prefix: string;
  /** Versions kept, in this node's memory and in Redis (the leader deletes older keys as it publishes). */
  keep?: number;
  /** Lifetime of a version's Redis key: a safety net for keys a dead leader left behind. */
  ttlMs?: number;
  onWarning?: (message: string) => void;
  /** With a cluster secret: the leader writes a MAC of (key, sha-256) beside each version; others refuse a version without a valid one. */
  mac?: ClusterMessageMac;
}

/** Versions kept by default: the round's model, the previous one (a late site), and the evaluation's. */
export const CLUSTER_MODEL_VERSIONS_KEPT = 3;
/** A version's Redis key outlives any round (rounds time out long before a day). */
export const CLUSTER_MODEL_VERSION_TTL_MS = 24 * 60 * 60 * 1000;
/** The largest version the HTTP route accepts (model-weights-route.ts). */
const MAX_VERSION = 2 ** 31 - 1;

export function modelVersionKey(prefix: string, version: number): string {
  return `${prefix}:model:${version}`;
}

/**
 * The global model versions every node of a cluster serves at GET /api/v1/models/:version/weights
 * (docs/cluster.md#model-bytes-over-http). The leader publishes each version once to Redis (a hash
 * `<prefix>:model:<version>` = {sha256, bytes}, with a TTL; only the last `keep` versions are left there);
 * a follower reads a version from Redis the first time it is asked for it (or when the leader announces it),
 * checks that the bytes hash to the stored sha-256 (and to the announced one), and keeps the last `keep`
 * versions in memory. So model bytes cross Redis once per version per follower, never once per site.
 */
export class ClusterModelVersions {
  private readonly local = new Map<number, ServedModelVersion>();
  private readonly pending = new Map<number, Promise<ServedModelVersion | undefined>>();
  private readonly announced = new Map<number, string>();
  private readonly publishedOrder: number[] = [];
  /** The leader's Redis write of each version it published (kept while the version is): true once it is in Redis. */
  private readonly writes = new Map<number, Promise<boolean>>();
  private readonly keep: number;
  private readonly ttlMs: number;
  private readonly buffers: ClusterRedis;
  /** Drops every in-flight read made before a clear (a new leader's versions replace the old ones). */
  private generation = 0;
  /** Versions read from Redis (each once per node while kept). */
  fetchedFromRedis = 0;
  /** Versions read from Redis whose bytes did not hash to the sha-256 stored or announced (refused, not served). */
  refusedIntegrity = 0;

  constructor(private readonly options: ClusterModelVersionsOptions) {
    this.keep = options.keep ?? CLUSTER_MODEL_VERSIONS_KEPT;
    this.ttlMs = options.ttlMs ?? CLUSTER_MODEL_VERSION_TTL_MS;
    this.buffers = options.redis.withTypeMapping(BLOB_AS_BUFFER) as unknown as ClusterRedis;
  }

  /** The versions held in this node's memory (newest last). */
  get held(): number[] {
    return [...this.local.keys()];
  }

  /**
   * The leader publishes a version: kept here, written to Redis before anything this node sends after it (one
   * connection keeps the order, so a follower that relays the instruction finds the key), older keys deleted.
   */
  publish(served: ServedModelVersion): void {
    this.remember(served);
    this.announced.set(served.version, served.sha256);
    const key = modelVersionKey(this.options.prefix, served.version);
    const at = this.publishedOrder.indexOf(served.version);
    if (at >= 0) this.publishedOrder.splice(at, 1);
    this.publishedOrder.push(served.version);
    const stale = this.publishedOrder.length > this.keep ? this.publishedOrder.splice(0, this.publishedOrder.length - this.keep) : [];
    const multi = this.options.redis
      .multi()
      .hSet(key, { sha256: served.sha256, bytes: Buffer.from(served.bytes.buffer, served.bytes.byteOffset, served.bytes.byteLength), ...(this.options.mac ? { mac: this.options.mac.tagText(`${key}\n${served.sha256}`) } : {}) })
      .pExpire(key, this.ttlMs);
    for (const v of stale) {
      multi.del(modelVersionKey(this.options.prefix, v));
      this.writes.delete(v);
    }
    this.writes.set(
      served.version,
      multi.exec().then(
        () => true,
        (err) => {
          this.options.onWarning?.(`could not publish model version ${served.version} to Redis: ${clipText((err as Error)?.message ?? err, 200)}`);
          return false;
        },
      ),
    );
  }

  /** The leader: resolves true once `version` (published here) is in Redis, false when its write failed or it was not published here. */
  written(version: number): Promise<boolean> {
    return this.writes.get(version) ?? Promise.resolve(false);
  }

  /**
   * The leader announced `version` with this sha-256: a held copy with other bytes (an earlier leader's) is
   * dropped, and the version is read now so the first site asking for it does not wait.
   */
  announce(version: number, sha256: string): void {
    this.announced.set(version, sha256);
    while (this.announced.size > 4 * this.keep) this.announced.delete(this.announced.keys().next().value!);
    const held = this.local.get(version);
    if (held && held.sha256 !== sha256) this.local.delete(version);
    if (!this.local.has(version)) void this.get(version);
  }

  /** A new leader: versions held so far may differ from its versions of the same numbers. */
  clear(): void {
    this.generation++;
    this.local.clear();
    this.pending.clear();
    this.announced.clear();
    this.publishedOrder.length = 0;
    this.writes.clear();
  }

  /** The version, from memory or else (once at a time per version) from Redis; undefined when the cluster does not hold it. */
  get(version: number): Promise<ServedModelVersion | undefined> {
    if (!Number.isInteger(version) || version < 0 || version > MAX_VERSION) return Promise.resolve(undefined);
    const held = this.local.get(version);
    if (held) return Promise.resolve(held);
    let read = this.pending.get(version);
    if (!read) {
      const generation = this.generation;
      read = this.read(version, generation).finally(() => {
        if (this.pending.get(version) === read) this.pending.delete(version);
      });
      this.pending.set(version, read);
    }
    return read;
  }

  private async read(version: number, generation: number): Promise<ServedModelVersion | undefined> {
    let fields: Array<Buffer | null>;
    try {
      fields = (await this.buffers.hmGet(modelVersionKey(this.options.prefix, version), ['sha256', 'bytes', 'mac'])) as unknown as Array<Buffer | null>;
    } catch (err) {
      this.options.onWarning?.(`could not read model version ${version} from Redis: ${clipText((err as Error)?.message ?? err, 200)}`);
      return undefined;
    }
    const [shaField, bytesField, macField] = fields;
    if (!shaField || !bytesField) return undefined;
    this.fetchedFromRedis++;
    const stored = shaField.toString('latin1');
    // The bytes must hash to the sha-256 stored beside them; with a secret, that sha-256 must carry the leader's MAC.
    if (this.options.mac && !this.options.mac.verifyText(`${modelVersionKey(this.options.prefix, version)}\n${stored}`, macField?.toString('latin1'))) {
      this.refusedIntegrity++;
      this.options.onWarning?.(`model version ${version} in Redis has ${macField ? 'a wrong' : 'no'} MAC (not written by a node with this cluster's secret): not served`);
      return undefined;
    }
    const bytes = new Uint8Array(bytesField.buffer, bytesField.byteOffset, bytesField.byteLength);
    const hash = sha256OfBytes(bytes);
    const expected = this.announced.get(version);
    if (hash !== stored || (expected !== undefined && hash !== expected)) {
      this.refusedIntegrity++;
      this.options.onWarning?.(`model version ${version} in Redis hashes to ${hash.slice(0, 16)}…, not the ${clipText((expected ?? stored).slice(0, 16), 16)}… ${expected !== undefined ? 'the leader announced' : 'stored beside it'}: not served`);
      return undefined;
    }
    if (generation !== this.generation) return undefined;
    const served = { version, bytes, sha256: hash };
    this.remember(served);
    return served;
  }

  private remember(served: ServedModelVersion): void {
    this.local.delete(served.version);
    this.local.set(served.version, served);
    // The oldest versions go first, whatever order they were read in.
    while (this.local.size > this.keep) this.local.delete(Math.min(...this.local.keys()));
  }
}
