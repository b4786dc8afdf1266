import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import type { X25519SharedSecret } from '../privacy/secagg-crypto.ts';

/** DER header of an X25519 private key (PKCS #8, RFC 8410): its 32 raw bytes follow. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * The last few private keys, parsed: OpenSSL's DER decoding costs ~0.4 ms a key, and one secret key meets many
 * public keys (a site's own key with every neighbour's; at the coordinator a dropped site's recovered key with
 * every surviving neighbour's). Bounded, so no secret outlives a few more agreements.
 */
const privateKeys = new Map<string, KeyObject>();
const PRIVATE_KEYS_KEPT = 4;

function privateKeyOf(secretKey: Uint8Array): KeyObject {
  const id = Buffer.from(secretKey).toString('hex');
  let key = privateKeys.get(id);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
    if (privateKeys.size >= PRIVATE_KEYS_KEPT) privateKeys.delete(privateKeys.keys().next().value!);
    privateKeys.set(id, key);
  }
  return key;
}

/**
 * X25519 by Node's crypto (OpenSSL): the same shared secret as @noble/curves' (RFC 7748; tests/privacy/
 * node-secagg-primitives.test.ts), ~10× faster (a public key imported as a JWK, the private one parsed once).
 * Secure aggregation agrees one key per (dropped site, neighbour) at the coordinator and two per neighbour at each
 * site. Throws for a key that is not 32 bytes, and for a public key that makes the secret all zeros (OpenSSL
 * refuses it, as @noble does).
 */
export const nodeX25519: X25519SharedSecret = (secretKey, publicKey) => {
  if (secretKey.length !== 32 || publicKey.length !== 32) throw new RangeError('X25519 keys are 32 bytes');
  const peer = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
  const shared = diffieHellman({ privateKey: privateKeyOf(secretKey), publicKey: peer });
  return new Uint8Array(shared.buffer, shared.byteOffset, shared.length);
};
