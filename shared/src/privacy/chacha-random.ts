/**
 * A seedable cryptographic random source: the ChaCha20 keystream (RFC 8439, @noble/ciphers) under a 32-byte
 * seed. Used for masks, Shamir coefficients and DP noise where `SeededRandom` (mulberry32, 32-bit state,
 * predictable) must not be. Seeded from `randomBytes` by default; a fixed seed makes tests reproducible.
 */
import { chacha20 } from '@noble/ciphers/chacha.js';
import { randomBytes as systemRandomBytes } from '@noble/hashes/utils.js';
import { FedtuneError } from '../errors.ts';

/** Fills a new byte array with random bytes. The shape of `randomBytes` from @noble/hashes. */
export type RandomBytes = (length: number) => Uint8Array;

/** A source of standard normal draws (`SeededRandom` and `ChaChaRandom` both are one). */
export interface NormalSource {
  normal(): number;
}

/** Operating-system randomness (crypto.getRandomValues), in Node and browsers. */
export const secureRandomBytes: RandomBytes = (length) => systemRandomBytes(length);

const BLOCK = 4096;

export class ChaChaRandom implements NormalSource {
  private readonly key: Uint8Array;
  private readonly nonce = new Uint8Array(12);
  private counter = 0;
  private buf = new Uint8Array(0);
  private words = new Uint32Array(0);
  private pos = 0;
  private spare: number | undefined;

  /** `seed`: 32 bytes; omitted, 32 bytes of operating-system randomness. */
  constructor(seed: Uint8Array = systemRandomBytes(32)) {
    if (seed.length !== 32) throw new FedtuneError('config', `a ChaCha20 seed is 32 bytes, got ${seed.length}`);
    this.key = Uint8Array.from(seed);
  }

  /** `length` pseudo-random bytes (the next bytes of the keystream). */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (this.pos === this.buf.length) this.refill();
      const n = Math.min(length - filled, this.buf.length - this.pos);
      out.set(this.buf.subarray(this.pos, this.pos + n), filled);
      this.pos += n;
      filled += n;
    }
    return out;
  }

  /** As a `RandomBytes` function. */
  readonly randomBytes: RandomBytes = (length) => this.bytes(length);

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    this.pos = (this.pos + 3) & ~3; // word-align (skipping up to 3 bytes after an odd `bytes` call)
    if (this.pos + 8 > this.buf.length) this.refill();
    const w = this.pos >> 2;
    this.pos += 8;
    const hi = this.words[w] >>> 5; // 27 bits
    const lo = this.words[w + 1] >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box–Muller, both outputs used). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  private refill(): void {
    // 64-byte blocks; the 32-bit block counter allows 256 GB per seed.
    this.buf = chacha20(this.key, this.nonce, new Uint8Array(BLOCK), undefined, this.counter);
    // Word values depend on byte order; that only changes which random numbers come out, not their law.
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, BLOCK / 4);
    this.counter += BLOCK / 64;
    this.pos = 0;
  }
}
