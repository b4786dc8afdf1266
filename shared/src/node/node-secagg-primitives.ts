import type { SecAggPrimitives } from '../privacy/secagg-crypto.ts';
import { nodeChaChaKeystream } from './node-chacha-keystream.ts';
import { nodeX25519 } from './node-x25519.ts';

/** Secure aggregation's ChaCha20 and X25519 by Node's crypto (OpenSSL): for the coordinator and Node sites. */
export const nodeSecAggPrimitives: SecAggPrimitives = { keystream: nodeChaChaKeystream, x25519: nodeX25519 };
