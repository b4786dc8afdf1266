import { MAX_SENDS_PER_MESSAGE, type SiteSendsMessage } from './site-sends-messages.ts';

export interface InstructionFanoutOptions {
  /** This node's id (the `node` of every message). */
  nodeId: string;
  /** One server-side emit carrying a node's batch (ClusterTransport: `fedtune:site-sends`). */
  send(message: SiteSendsMessage): void;
  /** Most sends per message (1..MAX_SENDS_PER_MESSAGE). Default MAX_SENDS_PER_MESSAGE. */
  maxPerMessage?: number;
  /**
   * A message ends once its binary fields (model bytes under `--model-delivery socket`) reach this many bytes,
   * so one Redis entry never holds many models. Default 8 MiB.
   */
  maxBytesPerMessage?: number;
  /** Runs the flush after the current turn (default setImmediate): tests pass a manual scheduler. */
  schedule?: (flush: () => void) => void;
}

/**
 * The leader's outbox for sites held by other nodes (docs/cluster.md, "Relaying"): what the engine sends a
 * RemoteSiteLink is queued per holding node and, once per turn of the event loop, each node gets its queue as
 * one message (split at `maxPerMessage`). The engine's fan-out sends a round's instructions in chunks with a
 * turn between (paced-fan-out.ts), so a follower's N sites cost about one message per chunk instead of N, and
 * every node decodes that many fewer (a server-side emit is a broadcast). A site's messages keep their order.
 * A server-side emit travels in msgpack, where an undefined field would arrive as null (a direct
 * `io.to(socket).emit` without binary went as JSON, which drops it): undefined fields are dropped here, so a
 * site gets what it got before (its schemas refuse null where a field is optional).
 */
export class InstructionFanout {
  private readonly queues = new Map<string, SiteSendsMessage['sends']>();
  private scheduled = false;
  private lastPayload?: unknown;
  private lastSafe?: unknown;
  private readonly maxPerMessage: number;
  private readonly maxBytesPerMessage: number;
  /** Messages sent and site messages in them, since this outbox was made. */
  messagesSent = 0;
  sendsSent = 0;

  constructor(private readonly options: InstructionFanoutOptions) {
    this.maxPerMessage = Math.max(1, Math.min(MAX_SENDS_PER_MESSAGE, Math.floor(options.maxPerMessage ?? MAX_SENDS_PER_MESSAGE)));
    this.maxBytesPerMessage = options.maxBytesPerMessage ?? 8 * 1024 * 1024;
  }

  /** Site messages waiting for the flush, over all nodes. */
  get pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  /** Queues one site message (its payload already in wire form) for the node holding `socket`. */
  send(node: string, socket: string, event: string, payload: unknown): void {
    let queue = this.queues.get(node);
    if (!queue) this.queues.set(node, (queue = []));
    queue.push({ socket, event, payload: this.msgpackSafe(payload) });
    if (this.scheduled) return;
    this.scheduled = true;
    (this.options.schedule ?? setImmediate)(() => this.flush());
  }

  /**
   * The payload without undefined fields. The engine sends one payload object to many sites (the model's
   * topology, a round's terms): the last one is remembered, and a payload with nothing undefined is not copied.
   */
  private msgpackSafe(payload: unknown): unknown {
    if (payload === this.lastPayload) return this.lastSafe;
    this.lastPayload = payload;
    this.lastSafe = hasUndefined(payload, 0) ? withoutUndefined(payload, 0) : payload;
    return this.lastSafe;
  }

  /** Sends every queue now: one message per node (more when a queue is longer than `maxPerMessage`). */
  flush(): void {
    this.scheduled = false;
    const queues = [...this.queues];
    this.queues.clear();
    for (const [to, sends] of queues) {
      let chunk: SiteSendsMessage['sends'] = [];
      let bytes = 0;
      const emit = () => {
        this.messagesSent++;
        this.sendsSent += chunk.length;
        this.options.send({ node: this.options.nodeId, to, sends: chunk });
        chunk = [];
        bytes = 0;
      };
      for (const send of sends) {
        chunk.push(send);
        bytes += binaryBytes(send.payload, 0);
        if (chunk.length >= this.maxPerMessage || bytes >= this.maxBytesPerMessage) emit();
      }
      if (chunk.length > 0) emit();
    }
  }
}

/** The bytes of the binary fields of a payload (two levels deep: a wire payload packs its binary fields into one at the top). */
function binaryBytes(v: unknown, depth: number): number {
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (v === null || typeof v !== 'object' || depth >= 2) return 0;
  let n = 0;
  for (const x of Object.values(v)) n += binaryBytes(x, depth + 1);
  return n;
}

/** The payload with undefined object fields dropped (as JSON.stringify drops them); binary and other values as they are. */
function withoutUndefined(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || depth > 32) return v;
  if (Array.isArray(v)) return v.map((x) => withoutUndefined(x, depth + 1));
  const out: Record<string, unknown> = {};
  // defineProperty: a key named __proto__ stays a key.
  for (const [k, x] of Object.entries(v)) if (x !== undefined) Object.defineProperty(out, k, { value: withoutUndefined(x, depth + 1), enumerable: true, writable: true, configurable: true });
  return out;
}

/** Whether an object field anywhere in the payload is undefined (binary not walked). */
function hasUndefined(v: unknown, depth: number): boolean {
  if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || depth > 32) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (hasUndefined(x, depth + 1)) return true;
    return false;
  }
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || hasUndefined(x, depth + 1)) return true;
  }
  return false;
}
