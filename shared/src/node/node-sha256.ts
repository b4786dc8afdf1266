import { createHash } from 'node:crypto';
import type { Sha256OfChunks } from '../audit/sha256-hex.ts';

/** `Sha256OfChunks` by Node's crypto (OpenSSL, SHA-NI where the CPU has it): the digest of nobleSha256OfChunks, faster. */
export const nodeSha256OfChunks: Sha256OfChunks = (chunks) => {
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  return hash.digest('hex');
};
