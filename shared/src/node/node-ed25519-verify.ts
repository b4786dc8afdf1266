import { createPublicKey, verify } from 'node:crypto';
import type { Ed25519Verify } from '../policy/ed25519-verify.ts';

/** The SubjectPublicKeyInfo DER header of an Ed25519 public key (RFC 8410): the 32-byte key follows it. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The encodings (sign bit cleared) of the points of small order — the 8-torsion — including the non-canonical
 * y = p and y = p + 1. @noble/curves' strict verification refuses such a public key; OpenSSL does not.
 */
const SMALL_ORDER_KEYS = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];

/** Whether 32 bytes (sign bit cleared) encode a y of at least p = 2^255 − 19 (non-canonical, refused by RFC 8032). */
function nonCanonicalY(bytes: Uint8Array): boolean {
  if (bytes[0] < 0xed || (bytes[31] & 0x7f) !== 0x7f) return false;
  for (let i = 1; i < 31; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

function smallOrder(publicKey: Uint8Array): boolean {
  const masked = Buffer.from(publicKey);
  masked[31] &= 0x7f;
  return SMALL_ORDER_KEYS.includes(masked.toString('hex'));
}

/**
 * Ed25519 verification by Node's crypto (OpenSSL, RFC 8032), without @noble/curves' first-call set-up (~0.08 s)
 * on a Node site's path to "joined run" (docs/performance.md). Refuses what `nobleEd25519Verify` (strict) refuses
 * before OpenSSL sees it: a small-order public key, a non-canonical key or R. Same verdicts on every signature a
 * party without the key can make (tests/startup/node-ed25519-verify.test.ts); see the docs for the one difference
 * (cofactored vs cofactorless equation, signatures only the key's owner can craft). Throws for a key that is not 32 bytes.
 */
export const nodeEd25519Verify: Ed25519Verify = (signature, message, publicKey) => {
  if (publicKey.length !== 32) throw new RangeError(`an Ed25519 public key has 32 bytes, not ${publicKey.length}`);
  if (signature.length !== 64) return false;
  if (nonCanonicalY(publicKey) || nonCanonicalY(signature.subarray(0, 32)) || smallOrder(publicKey)) return false;
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: 'der', type: 'spki' });
  return verify(null, message, key, signature);
};
