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
export function agreeKey(secretKey: Uint8Array, peerPublicKey: Uint8Array, purpose: SecAggKeyPurpose, round: number, idA: string, idB: string): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(secretKey, peerPublicKey);
  } catch (err) {
    throw new FedtuneError('malformed_payload', `invalid X25519 public key for ${idA}/${idB}`, { cause: err });
  }
  const [lo, hi] = idA < idB ? [idA, idB] : [idB, idA];
  return hkdf(sha256, shared, undefined, encoder.encode(`fedtune/secagg/v1/${purpose}/${round}/${lo}/${hi}`), 32);
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

/** Expands a 32-byte seed into `length` pseudo-random uint32 (ChaCha20 keystream, little-endian words). */
export function expandMask(seed: Uint8Array, length: number): Uint32Array {
  if (seed.length !== 32) throw new FedtuneError('config', `a mask seed is 32 bytes, got ${seed.length}`);
  const zeros = new Uint8Array(4 * length);
  const bytes = chacha20(seed, new Uint8Array(12), zeros, zeros); // keystream XOR 0, in place
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, length);
  if (!LITTLE_ENDIAN) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, 4 * length);
    for (let i = 0; i < length; i++) words[i] = view.getUint32(4 * i, true);
  }
  return words;
}

/** target ← target + sign·PRG(seed) modulo 2^32, in place. */
export function applyMask(target: Uint32Array, seed: Uint8Array, sign: 1 | -1): void {
  const mask = expandMask(seed, target.length);
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
