import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** The SHA-256 of bytes (or of a string's UTF-8 bytes) as 64 lowercase hex digits; the same in Node and the browser. */
export function sha256Hex(input: Uint8Array | string): string {
  return bytesToHex(sha256(typeof input === 'string' ? new TextEncoder().encode(input) : input));
}

/** SHA-256 of a sequence of byte chunks (as if concatenated) as 64 lowercase hex digits. */
export type Sha256OfChunks = (chunks: readonly Uint8Array[]) => string;

/** `Sha256OfChunks` by @noble/hashes: the same in Node and the browser. Node sites pass Node's crypto (nodeSha256OfChunks: the same digest, several times faster). */
export const nobleSha256OfChunks: Sha256OfChunks = (chunks) => {
  const hash = sha256.create();
  for (const c of chunks) hash.update(c);
  return bytesToHex(hash.digest());
};
