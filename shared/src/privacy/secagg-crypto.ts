/**
 * The cryptographic building blocks of secure aggregation, all from @noble (audited, isomorphic, no
 * hand-written primitives):
 *   - key agreement: X25519 (RFC 7748; low-order peer keys are rejected);
 *   - key derivation: HKDF-SHA256 (RFC 5869) of the X25519 secret, bound to the round and the pair, so
 *     every (round, pair, purpose) gets an independent 32-byte key;
 *   - PRG: the ChaCha20 keystream (RFC 8439, zero nonce; each seed is used once) read as little-endian
 *     uint32 — a mask of L values costs one 4·L-byte keystream;
 *   - authenticated encryption of the Shamir shares sites send each other through the coordinator:
 *     ChaCha20-Poly1305 with a random nonce and the round and both ids as associated data.
 */
import { chacha20, chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { FedtuneError } from '../errors.ts';
import type { RandomBytes } from './chacha-random.ts';

export interface X25519KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A fresh X25519 key pair from 32 random bytes. */
export function generateKeyPair(randomBytes: RandomBytes): X25519KeyPair {
  const secretKey = randomBytes(32);
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return x25519.getPublicKey(secretKey);
}

const encoder = new TextEncoder();

export type SecAggKeyPurpose = 'mask' | 'encrypt';

/**
 * The 32-byte key two sites share for one purpose in one round: HKDF-SHA256(X25519(mine, theirs),
 * info = "fedtune/secagg/v1/<purpose>/<round>/<lower id>/<higher id>"). Both sides derive the same key.
 */
export function agreeKey(secretKey: Uint8Array, peerPublicKey: Uint8Array, purpose: SecAggKeyPurpose, round: number, idA: string, idB: string, sharedSecret: X25519SharedSecret = nobleX25519): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = sharedSecret(secretKey, peerPublicKey);
  } catch (err) {
    throw new FedtuneError('malformed_payload', `invalid X25519 public key for ${idA}/${idB}`, { cause: err });
  }
  const [lo, hi] = idA < idB ? [idA, idB] : [idB, idA];
  return hkdf(sha256, shared, undefined, encoder.encode(`fedtune/secagg/v1/${purpose}/${round}/${lo}/${hi}`), 32);
}

/** A fixed secret key used only to test peers' public keys (isAgreeablePublicKey). */
const PROBE_SECRET_KEY = new Uint8Array(32).fill(0x5a);

/**
 * Whether an agreement with `publicKey` can work: 32 bytes and not a small-order point of the curve or its twist.
 * X25519 with such a point is all zeros for every (clamped, so a multiple of 8) secret key, and both
 * implementations refuse it — so a site advertising one would make every honest neighbour fail to agree keys
 * with it, and drop out of the round. One X25519 with a fixed key tells them apart.
 */
export function isAgreeablePublicKey(publicKey: Uint8Array, sharedSecret: X25519SharedSecret = nobleX25519): boolean {
  if (publicKey.length !== 32) return false;
  try {
    return sharedSecret(PROBE_SECRET_KEY, publicKey).some((b) => b !== 0);
  } catch {
    return false;
  }
}

/**
 * A site's commitment to its self-mask seed, sent with its public keys before any share exists:
 * SHA-256("fedtune/secagg/v1/self-mask-commitment/<round>/<site id>/" ‖ seed). The server checks the seed it
 * recovers from the survivors' shares against it, as it checks a recovered masking key against its public
 * key: a share that does not lie on the owner's polynomial can then never unmask the sum with a wrong seed.
 * The seed is 32 random bytes, so the commitment reveals nothing of it.
 */
export function selfMaskCommitment(seed: Uint8Array, round: number, siteId: string): Uint8Array {
  const prefix = encoder.encode(`fedtune/secagg/v1/self-mask-commitment/${round}/${siteId}/`);
  const input = new Uint8Array(prefix.length + seed.length);
  input.set(prefix, 0);
  input.set(seed, prefix.length);
  return sha256(input);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * X25519(secret key, peer's public key) (RFC 7748): the 32-byte shared secret; throws for a public key that makes
 * it all zeros (a small-order point), as both implementations do.
 */
export type X25519SharedSecret = (secretKey: Uint8Array, publicKey: Uint8Array) => Uint8Array;

/** X25519 by @noble/curves (browsers, and the default everywhere). */
export const nobleX25519: X25519SharedSecret = (secretKey, publicKey) => x25519.getSharedSecret(secretKey, publicKey);

/**
 * The first `bytes` bytes of the ChaCha20 keystream (RFC 8439) of a 32-byte key, with an all-zero nonce and the
 * block counter from 0: every implementation must give the same bytes, so that a Node coordinator (OpenSSL's,
 * shared/src/node/node-chacha-keystream.ts) removes the masks a browser site (this one) added.
 */
export type ChaChaKeystream = (key: Uint8Array, bytes: number) => Uint8Array;

/** ChaCha20's keystream by @noble/ciphers (browsers, and the default everywhere). */
export const nobleChaChaKeystream: ChaChaKeystream = (key, bytes) => {
  const zeros = new Uint8Array(bytes);
  return chacha20(key, new Uint8Array(12), zeros, zeros); // keystream XOR 0, in place
};

/**
 * The primitives secure aggregation spends its time in — expanding masks and agreeing pairwise keys — as functions
 * a faster implementation of the same arithmetic can replace: a Node coordinator and Node sites pass OpenSSL's
 * (shared/src/node/node-secagg-primitives.ts), browsers keep @noble's; the bytes are the same.
 */
export interface SecAggPrimitives {
  keystream: ChaChaKeystream;
  x25519: X25519SharedSecret;
}

/** Expands a 32-byte seed into `length` pseudo-random uint32 (ChaCha20 keystream, little-endian words). */
export function expandMask(seed: Uint8Array, length: number, keystream: ChaChaKeystream = nobleChaChaKeystream): Uint32Array {
  if (seed.length !== 32) throw new FedtuneError('config', `a mask seed is 32 bytes, got ${seed.length}`);
  const bytes = keystream(seed, 4 * length);
  if (bytes.length !== 4 * length) throw new FedtuneError('config', `a keystream of ${4 * length} bytes was asked for, ${bytes.length} came`);
  // A keystream's bytes may start anywhere in their buffer (a Node Buffer from its pool): words need 4-byte alignment.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const words = new Uint32Array(aligned.buffer, aligned.byteOffset, length);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(aligned.buffer, aligned.byteOffset, 4 * length);
    for (let i = 0; i < length; i++) words[i] = view.getUint32(4 * i, true);
  }
  return words;
}

/** target ← target + sign·PRG(seed) modulo 2^32, in place. */
export function applyMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1, keystream?: ChaChaKeystream): void {
  const mask = expandMask(seed, target.length, keystream);
  // `| 0` keeps V8 in int32 arithmetic; storing the int32 into a Uint32Array is the value mod 2^32.
  if (sign === 1) for (let i = 0; i < target.length; i++) target[i] = (target[i] + mask[i]) | 0;
  else for (let i = 0; i < target.length; i++) target[i] = (target[i] - mask[i]) | 0;
}

function associatedData(round: number, from: string, to: string): Uint8Array {
  return encoder.encode(`fedtune/secagg/v1/shares/${round}/${from}/${to}`);
}

/** Encrypts `plaintext` from `from` to `to` under their shared encryption key; returns nonce and ciphertext. */
export function sealFor(key: Uint8Array, round: number, from: string, to: string, plaintext: Uint8Array, randomBytes: RandomBytes): { nonce: Uint8Array; ciphertext: Uint8Array } {
  const nonce = randomBytes(12);
  return { nonce, ciphertext: chacha20poly1305(key, nonce, associatedData(round, from, to)).encrypt(plaintext) };
}

/** Decrypts and authenticates; throws FedtuneError('malformed_payload') if anything was altered or misaddressed. */
export function openFrom(key: Uint8Array, round: number, from: string, to: string, nonce: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  try {
    return chacha20poly1305(key, nonce, associatedData(round, from, to)).decrypt(ciphertext);
  } catch (err) {
    throw new FedtuneError('malformed_payload', `shares from ${from} to ${to} failed authentication`, { cause: err });
  }
}
