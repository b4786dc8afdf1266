import { ed25519 } from '@noble/curves/ed25519.js';

/**
 * An Ed25519 verification: whether `signature` (64 bytes) is `publicKey`'s (32 bytes) signature of `message`.
 * May throw on malformed input (the caller treats a throw as "not valid").
 */
export type Ed25519Verify = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

/**
 * @noble/curves' verification, strict RFC 8032 (`zip215: false`: non-canonical encodings are refused): the one
 * browsers use. Node sites use Node's crypto (shared/src/node/node-ed25519-verify.ts), which follows the same rules.
 */
export const nobleEd25519Verify: Ed25519Verify = (signature, message, publicKey) => ed25519.verify(signature, message, publicKey, { zip215: false });
