import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { deserialize, serialize } from 'node:v8';
import { clipText, FedtuneError } from '@fedtune/shared';
import { NodeId } from './cluster-options.ts';

/** The shortest cluster secret accepted (bytes of the file, trailing whitespace left out). */
export const MIN_CLUSTER_SECRET_BYTES = 32;
/** The largest secret file read (a secret is a line of random text, not a document). */
export const MAX_CLUSTER_SECRET_FILE_BYTES = 4096;
/** Most nonces remembered inside the window (replays of older ones are refused by the window itself). */
export const MAX_REMEMBERED_NONCES = 200_000;
const MAC_BYTES = 32;
const NONCE_BYTES = 16;

/**
 * Reads a cluster secret file once (`--cluster-secret-file`, env FEDTUNE_CLUSTER_SECRET_FILE): its bytes
 * without trailing whitespace, at least MIN_CLUSTER_SECRET_BYTES. Errors name the file, never its content.
 */
export function readClusterSecret(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (err) {
    throw new FedtuneError('config', `cannot read the cluster secret file ${clipText(path, 200)}: ${clipText((err as NodeJS.ErrnoException).code ?? String(err), 64)}`);
  }
  if (raw.byteLength > MAX_CLUSTER_SECRET_FILE_BYTES) throw new FedtuneError('config', `the cluster secret file ${clipText(path, 200)} is ${raw.byteLength} bytes; at most ${MAX_CLUSTER_SECRET_FILE_BYTES} (one line of random text, e.g. openssl rand -hex 32)`);
  let end = raw.byteLength;
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: raw[-1] is undefined, which ends the loop as well
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d || raw[end - 1] === 0x20 || raw[end - 1] === 0x09)) end--;
  const secret = Buffer.from(raw.subarray(0, end));
  raw.fill(0);
  if (secret.byteLength < MIN_CLUSTER_SECRET_BYTES) throw new FedtuneError('config', `the cluster secret in ${clipText(path, 200)} is ${secret.byteLength} bytes; at least ${MIN_CLUSTER_SECRET_BYTES} are needed (e.g. openssl rand -hex 32 > ${clipText(path, 200)})`);
  return secret;
}

/** A sealed inter-node message as it crosses Redis: the signed bytes and their HMAC-SHA256. */
export interface SealedClusterMessage {
  fedtuneSealed: Uint8Array;
  mac: Uint8Array;
}

export interface OpenedClusterMessage {
  node: string;
  payload: unknown;
}

export interface ClusterMessageMacOptions {
  /** Messages whose timestamp is further than this from this node's clock are refused (ClusterOptions.macWindowMs). */
  windowMs: number;
  now?: () => number;
  /** Most nonces remembered (default MAX_REMEMBERED_NONCES); at the cap the oldest is forgotten first. */
  maxNonces?: number;
}

/**
 * Authenticates every message between the nodes of a cluster (docs/cluster.md#trust-and-deployment) with
 * HMAC-SHA256 under the cluster secret. The signed bytes are one canonical encoding (v8 serialization) of
 * [event, sender node id, timestamp, nonce, payload], made once per message — a 1.6 MB partial aggregate is
 * hashed once, not per field — and decoded only after its MAC holds. A message is refused when its MAC is
 * missing or wrong, when it was sealed for another event, when its timestamp is outside the window, when its
 * nonce was seen already (a replay), or when its payload names another sender node than the sealed one.
 */
export class ClusterMessageMac {
  private readonly nonces = new Map<string, number>();
  private readonly now: () => number;
  private readonly maxNonces: number;

  constructor(
    private readonly secret: Uint8Array,
    private readonly nodeId: string,
    private readonly options: ClusterMessageMacOptions,
  ) {
    if (secret.byteLength < MIN_CLUSTER_SECRET_BYTES) throw new FedtuneError('config', `a cluster secret needs at least ${MIN_CLUSTER_SECRET_BYTES} bytes`);
    this.now = options.now ?? Date.now;
    this.maxNonces = options.maxNonces ?? MAX_REMEMBERED_NONCES;
  }

  seal(event: string, payload: unknown): SealedClusterMessage {
    const sealed = serialize([event, this.nodeId, this.now(), randomBytes(NONCE_BYTES).toString('hex'), payload]);
    return { fedtuneSealed: sealed, mac: this.tag(sealed) };
  }

  /** The sender and payload of a sealed message of `event`; throws FedtuneError('unauthorized') saying why it is refused. */
  open(event: string, raw: unknown): OpenedClusterMessage {
    const m = raw as Partial<SealedClusterMessage> | null;
    if (typeof m !== 'object' || m === null || !(m.fedtuneSealed instanceof Uint8Array) || !(m.mac instanceof Uint8Array)) throw new FedtuneError('unauthorized', 'a cluster message without a MAC');
    if (m.mac.byteLength !== MAC_BYTES || !timingSafeEqual(m.mac, this.tag(m.fedtuneSealed))) throw new FedtuneError('unauthorized', 'a cluster message with a wrong MAC (another cluster secret?)');
    let fields: unknown;
    try {
      fields = deserialize(m.fedtuneSealed);
    } catch {
      throw new FedtuneError('unauthorized', 'a cluster message whose sealed bytes do not decode');
    }
    if (!Array.isArray(fields) || fields.length !== 5) throw new FedtuneError('unauthorized', 'a cluster message not in the sealed form');
    const [sealedEvent, node, at, nonce, payload] = fields as [unknown, unknown, unknown, unknown, unknown];
    if (sealedEvent !== event) throw new FedtuneError('unauthorized', `a cluster message sealed for another event (${clipText(String(sealedEvent), 64)})`);
    if (!NodeId.safeParse(node).success) throw new FedtuneError('unauthorized', 'a cluster message sealed without a valid node id');
    if (!isFiniteNumber(at)) throw new FedtuneError('unauthorized', 'a cluster message without a timestamp');
    const t = this.now();
    if (Math.abs(t - at) > this.options.windowMs) throw new FedtuneError('unauthorized', `a cluster message from node ${node as string} sealed ${Math.round((t - at) / 1000)} s from this node's clock (window ${this.options.windowMs} ms)`);
    if (typeof nonce !== 'string' || nonce.length !== 2 * NONCE_BYTES) throw new FedtuneError('unauthorized', 'a cluster message without a nonce');
    this.forgetOldNonces(t);
    if (this.nonces.has(nonce)) throw new FedtuneError('unauthorized', `a replayed cluster message from node ${node as string}`);
    // Only an object has a `node` (a primitive payload's is undefined).
    const claimed = (payload as { node?: unknown } | null | undefined)?.node;
    if (claimed !== undefined && claimed !== node) throw new FedtuneError('unauthorized', `a cluster message sealed by node ${node as string} speaking for node ${clipText(String(claimed), 64)}`);
    this.nonces.set(nonce, at);
    return { node: node as string, payload };
  }

  /** A MAC over a short text (e.g. a Redis key and the sha-256 stored in it), hex. */
  tagText(text: string): string {
    return this.tag(Buffer.from(text)).toString('hex');
  }

  /** Whether `mac` (hex) is the MAC of `text`. */
  verifyText(text: string, mac: string | undefined): boolean {
    if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false;
    return timingSafeEqual(Buffer.from(mac, 'hex'), this.tag(Buffer.from(text)));
  }

  /** How many nonces are remembered now (at most maxNonces; none older than the window after the next open). */
  get rememberedNonces(): number {
    return this.nonces.size;
  }

  private tag(bytes: Uint8Array): Buffer {
    return createHmac('sha256', this.secret).update(bytes).digest();
  }

  private forgetOldNonces(t: number): void {
    // Nonces are kept while their message could still pass the window; the oldest go first when too many.
    for (const [nonce, at] of this.nonces) {
      if (t - at <= this.options.windowMs && this.nonces.size < this.maxNonces) break;
      this.nonces.delete(nonce);
    }
  }
}

function isFiniteNumber(value: unknown): value is number {
  return Number.isFinite(value);
}

/** The namespace methods through which socket.io's adapter sends and delivers server-side emits. */
interface ServerSideEmitter {
  serverSideEmit(event: string, ...args: unknown[]): boolean;
  _onServerSideEmit(args: unknown[]): void;
}

/**
 * The one place where inter-node messages are sealed and opened: wraps the main namespace's
 * `serverSideEmit` (seal) and `_onServerSideEmit` (open; refused messages never reach a listener).
 */
export function authenticateServerSideEmits(namespace: unknown, mac: ClusterMessageMac, onRefused: (err: FedtuneError) => void): void {
  const nsp = namespace as ServerSideEmitter;
  const emit = nsp.serverSideEmit.bind(nsp);
  const deliver = nsp._onServerSideEmit.bind(nsp);
  nsp.serverSideEmit = (event: string, ...args: unknown[]) => emit(event, mac.seal(event, args[0]));
  nsp._onServerSideEmit = (args: unknown[]) => {
    const [event, raw] = args;
    let opened: OpenedClusterMessage;
    try {
      if (typeof event !== 'string') throw new FedtuneError('unauthorized', 'a cluster message without an event name');
      opened = mac.open(event, raw);
    } catch (err) {
      onRefused(err instanceof FedtuneError ? err : new FedtuneError('unauthorized', clipText((err as Error)?.message ?? err)));
      return;
    }
    deliver([event, opened.payload]);
  };
}
