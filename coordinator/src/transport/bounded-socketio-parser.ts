import { Decoder, Encoder, protocol } from 'socket.io-parser';

/** What one connection may send as socket.io text packets (ConnectionLimits, where the defaults live). */
export interface PacketLimits {
  maxTextMessageBytes: number;
  textBytesPerSecond: number;
  textBytesBurst: number;
  /** Binary attachments: bytes per second on average, in bursts of `binaryBytesBurst` (absent: not bounded here). */
  binaryBytesPerSecond?: number;
  binaryBytesBurst?: number;
}

/**
 * socket.io's parser for the packets the coordinator receives, with the bounds a hostile peer must not pass
 * before anything of its message is parsed. socket.io makes one decoder per connection and closes the
 * connection when `add` throws (a protocol violation), so each bound below costs the peer its connection:
 * - a text packet (the JSON of an event) longer than `maxTextMessageBytes` characters, or past the connection's
 *   text budget (`textBytesPerSecond`, bursts of `textBytesBurst`): JSON.parse of a 13 MB message is ~100 ms
 *   of the event loop, and a valid event with an unknown 13 MB key is only stripped by its schema after that;
 * - binary attachments past the connection's binary budget (`binaryBytesPerSecond`, bursts of
 *   `binaryBytesBurst`): ws has buffered each one already, but the connection goes before the next;
 * - a binary packet announcing more than one attachment: fedtune packs every binary field of a message into
 *   one attachment (binary-fields.ts), and socket.io holds a packet's attachments until the last arrives, so
 *   9 of 10 announced 15 MB attachments sent and the last never held 135 MB per connection.
 * Encoding is socket.io's own.
 */
export function boundedSocketIoParser(limits: PacketLimits, now: () => number = Date.now): { protocol: number; Encoder: typeof Encoder; Decoder: typeof Decoder } {
  class BoundedDecoder extends Decoder {
    private budget = limits.textBytesBurst;
    private refilledAt = now();
    private binaryBudget = limits.binaryBytesBurst ?? Infinity;
    private binaryRefilledAt = now();

    constructor() {
      super({ maxAttachments: 1 });
    }

    override add(obj: unknown): void {
      if (typeof obj === 'string') {
        if (obj.length > limits.maxTextMessageBytes) throw new Error(`text packet of ${obj.length} characters (at most ${limits.maxTextMessageBytes})`);
        const t = now();
        this.budget = Math.min(limits.textBytesBurst, this.budget + ((t - this.refilledAt) / 1000) * limits.textBytesPerSecond);
        this.refilledAt = t;
        if (obj.length > this.budget) throw new Error(`text packets past ${limits.textBytesPerSecond} characters per second`);
        this.budget -= obj.length;
      } else if (limits.binaryBytesPerSecond !== undefined && limits.binaryBytesBurst !== undefined) {
        const bytes = (obj as { byteLength?: unknown }).byteLength;
        const n = typeof bytes === 'number' ? bytes : 0;
        const t = now();
        this.binaryBudget = Math.min(limits.binaryBytesBurst, this.binaryBudget + ((t - this.binaryRefilledAt) / 1000) * limits.binaryBytesPerSecond);
        this.binaryRefilledAt = t;
        if (n > this.binaryBudget) throw new Error(`binary attachments past ${limits.binaryBytesPerSecond} bytes per second`);
        this.binaryBudget -= n;
      }
      super.add(obj);
    }
  }
  return { protocol, Encoder, Decoder: BoundedDecoder };
}
