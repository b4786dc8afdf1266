import { webcrypto } from 'node:crypto';
import { sha256OfBytes } from './audit-recorder.ts';

/**
 * The SHA-256 of an update's bytes as received, computed on libuv's thread pool (WebCrypto's digest copies the
 * bytes when it is called, then hashes them off the event loop): the audit log records the hash of every update
 * (~0.5 ms of the event loop per 400 KB update when hashed in place, the largest single cost of the fan-in in a
 * profile of `npm run bench:load`). `value` is the hex digest once it has landed; `now()` gives it at once,
 * hashing on this thread only if the pool has not delivered it yet (the run's last, synchronous audit write).
 */
export class UpdateDigest {
  /** Resolves to the hex digest (never rejects: a failed pool digest is computed on this thread). */
  readonly ready: Promise<string>;
  private hex: string | undefined;
  /** Kept until the digest lands, for `now()`; the pool hashes its own copy. */
  private bytes: Uint8Array | undefined;

  /** Hashes `bytes` on libuv's pool; `{ hex }`: a digest already known. */
  constructor(source: Uint8Array | { hex: string }) {
    if (!(source instanceof Uint8Array)) {
      this.hex = source.hex;
      this.ready = Promise.resolve(source.hex);
      return;
    }
    const bytes = source;
    this.bytes = bytes;
    this.ready = webcrypto.subtle
      .digest('SHA-256', bytes)
      .then((d) => Buffer.from(d).toString('hex'))
      // WebCrypto's SHA-256 of a Uint8Array does not fail; this thread's hash is the defence in depth (tested with a failing digest).
      .catch(() => sha256OfBytes(bytes))
      .then((h) => {
        this.hex ??= h;
        this.bytes = undefined;
        return this.hex;
      });
  }

  /** A digest already known (e.g. computed by a cluster follower). */
  static of(hex: string): UpdateDigest {
    return new UpdateDigest({ hex });
  }

  /** The hex digest if it has landed. */
  get value(): string | undefined {
    return this.hex;
  }

  /** As JSON: the hex digest once it has landed (an event logged as JSON never shows the pending object). */
  toJSON(): string | null {
    return this.hex ?? null;
  }

  /** The hex digest now: hashed on this thread if the pool's has not landed yet. */
  now(): string {
    if (this.hex === undefined) {
      this.hex = sha256OfBytes(this.bytes!);
      this.bytes = undefined;
    }
    return this.hex;
  }
}
