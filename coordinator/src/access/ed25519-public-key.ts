import { createPrivateKey, createPublicKey } from 'node:crypto';

/** The PKCS#8 DER header of an Ed25519 private key (RFC 8410): the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The Ed25519 public key (hex) of a 32-byte secret key (seed), computed by Node's crypto (OpenSSL): the same
 * value as `@noble/curves`' `ed25519.getPublicKey`, without its ~0.1 s of first-call set-up on the coordinator's
 * start-up path (docs/performance.md#listening-first). Throws for a secret key that is not 32 bytes.
 */
export function ed25519PublicKeyHex(secretKey: Uint8Array): string {
  if (secretKey.length !== 32) throw new RangeError(`an Ed25519 secret key has 32 bytes, not ${secretKey.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
  const { x } = createPublicKey(privateKey).export({ format: 'jwk' });
  return Buffer.from(x!, 'base64url').toString('hex');
}
