import { createCipheriv } from 'node:crypto';
import type { ChaChaKeystream } from '../privacy/secagg-crypto.ts';

/** 16 zero bytes: OpenSSL's ChaCha20 IV is the 32-bit block counter (little-endian) then the 96-bit nonce. */
const ZERO_IV = Buffer.alloc(16);
let zeros = Buffer.alloc(0);

/**
 * ChaCha20's keystream by Node's crypto (OpenSSL): the same bytes as @noble/ciphers' (RFC 8439, nonce 0, counter
 * from 0; tests/privacy/node-chacha-keystream.test.ts) at ~6× its speed — 0.26 against 1.6 ms for a 100k-parameter
 * mask here. Secure aggregation expands one mask per survivor and per (dropped site, neighbour) at the coordinator,
 * on its event loop, and one per neighbour at each site.
 */
export const nodeChaChaKeystream: ChaChaKeystream = (key, bytes) => {
  if (zeros.length < bytes) zeros = Buffer.alloc(bytes);
  const cipher = createCipheriv('chacha20', key, ZERO_IV);
  const out = cipher.update(zeros.subarray(0, bytes));
  cipher.final();
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
};
