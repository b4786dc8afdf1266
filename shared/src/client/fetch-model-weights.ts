import { FedtuneError } from '../errors.ts';
import { sha256Hex } from '../audit/sha256-hex.ts';
import type { ModelRef } from '../messages/model-ref.ts';

/** Header naming the site that asks (the coordinator's terms-route.ts and model-weights-route.ts read it). */
const SITE_ID_HEADER = 'x-fedtune-site';

/** Fetches the bytes of a ModelRef; the platform's fetch by default (Node 18+ and browsers). */
export type ModelFetch = (url: string, init: { headers: Record<string, string> }) => Promise<Response>;

/**
 * The model bytes an instruction references (modelDelivery 'http'), from `server` (the coordinator's base URL),
 * verified: a response that is not 200, whose strong ETag is not the reference's sha-256, whose size is not
 * the reference's, or whose body does not hash to it is refused ('model_integrity'; 'transport' when the
 * request itself fails). Only then are the bytes decoded by the caller.
 */
export async function fetchModelWeights(server: string, ref: ModelRef, auth: { siteId: string; token?: string }, fetcher: ModelFetch = (url, init) => fetch(url, init)): Promise<Uint8Array> {
  const url = new URL(ref.path, server).toString();
  const headers: Record<string, string> = { [SITE_ID_HEADER]: auth.siteId, ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}) };
  let response: Response;
  try {
    response = await fetcher(url, { headers });
  } catch (cause) {
    throw new FedtuneError('transport', `cannot fetch the model from ${url.slice(0, 200)}: ${String((cause as Error)?.message ?? cause).slice(0, 200)}`, { cause });
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new FedtuneError(response.status === 401 ? 'unauthorized' : 'model_integrity', `the model at ${url.slice(0, 200)} answered HTTP ${response.status}`);
  }
  const etag = response.headers.get('etag');
  if (etag !== `"${ref.sha256}"`) {
    await response.body?.cancel();
    throw new FedtuneError('model_integrity', `the model's ETag ${String(etag).slice(0, 80)} is not the sha-256 the instruction names (${ref.sha256.slice(0, 16)}…)`);
  }
  const declared = Number(response.headers.get('content-length') ?? ref.bytes);
  if (declared !== ref.bytes) {
    await response.body?.cancel();
    throw new FedtuneError('model_integrity', `the model is ${declared} bytes, the instruction says ${ref.bytes}`);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.byteLength !== ref.bytes) throw new FedtuneError('model_integrity', `the model body is ${bytes.byteLength} bytes, the instruction says ${ref.bytes}`);
  const hash = sha256Hex(bytes);
  if (hash !== ref.sha256) throw new FedtuneError('model_integrity', `the model's bytes hash to ${hash.slice(0, 16)}…, not the ${ref.sha256.slice(0, 16)}… the instruction names: refused`);
  return bytes;
}
