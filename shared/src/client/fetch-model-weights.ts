import { FedtuneError } from '../errors.ts';
import { sha256Hex } from '../audit/sha256-hex.ts';
import type { ModelRef } from '../messages/model-ref.ts';
import { urlUnderServer } from '../transport/server-url.ts';
import { readBodyAtMost } from '../transport/read-body-at-most.ts';

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
/** How often a site asks again when the server says "not now" (HTTP 429 or 503) or the connection fails, and the longest wait it accepts. */
export const MODEL_FETCH_RETRIES = 5;
export const MODEL_FETCH_MAX_WAIT_MS = 10_000;

/**
 * The wait before asking again after a 429/503: the server's Retry-After (seconds) when it gives a sane one,
 * else a doubling backoff from 250 ms; never more than MODEL_FETCH_MAX_WAIT_MS. `jitter` in [0, 1) spreads
 * many sites behind one address over the next quarter of the wait.
 */
export function modelFetchRetryDelayMs(retryAfter: string | null, attempt: number, jitter: number): number {
  const seconds = retryAfter === null || retryAfter.trim() === '' ? Number.NaN : Number(retryAfter);
  const base = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 250 * 2 ** attempt;
  return Math.min(MODEL_FETCH_MAX_WAIT_MS, Math.round(base * (1 + jitter / 4)));
}

/**
 * Why a request failed below HTTP, in a few words: the platform's fetch says only "fetch failed" and keeps
 * the reason in `cause` (undici: `cause.code` such as UND_ERR_SOCKET or ECONNRESET, and its message).
 */
export function networkFailureReason(err: unknown): string {
  const e = err as { message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  const top = String(e?.message ?? err).slice(0, 120);
  const code = typeof e?.cause?.code === 'string' ? e.cause.code.slice(0, 40) : undefined;
  const inner = typeof e?.cause?.message === 'string' ? e.cause.message.slice(0, 120) : undefined;
  const detail = [code, inner && inner !== top ? inner : undefined].filter(Boolean).join(': ');
  return detail ? `${top} (${detail})` : top;
}

/**
 * Whether a failed request may be asked again: a network failure (the platform's fetch rejects with a
 * TypeError: a connection reset, a keep-alive connection the server closed as it was reused, a refused
 * connection while a node restarts). An abort is the caller's decision and is not retried.
 */
export function isRetryableNetworkFailure(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return err instanceof TypeError && name !== 'AbortError' && name !== 'TimeoutError';
}

export interface ModelFetchRetry {
  /** Waits `ms` (a timer by default; tests pass their own). */
  sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) (Math.random by default). */
  jitter?: () => number;
}

export async function fetchModelWeights(
  server: string,
  ref: ModelRef,
  auth: { siteId: string; token?: string },
  fetcher: ModelFetch = (url, init) => fetch(url, init),
  retry: ModelFetchRetry = {},
): Promise<Uint8Array> {
  const url = urlUnderServer(server, ref.path);
  const headers: Record<string, string> = { [SITE_ID_HEADER]: auth.siteId, ...(auth.token ? { authorization: `Bearer ${auth.token}` } : {}) };
  const sleep = retry.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const jitter = retry.jitter ?? Math.random;
  let response: Response;
  for (let attempt = 0; ; attempt++) {
    try {
      response = await fetcher(url, { headers });
    } catch (cause) {
      // The GET is idempotent and the bytes are verified: a dropped connection is asked again, a few times.
      if (isRetryableNetworkFailure(cause) && attempt < MODEL_FETCH_RETRIES) {
        await sleep(modelFetchRetryDelayMs(null, attempt, jitter()));
        continue;
      }
      const tries = attempt + 1;
      throw new FedtuneError('transport', `cannot fetch the model from ${url.slice(0, 200)}: ${networkFailureReason(cause)}${tries > 1 ? ` (${tries} attempts)` : ''}`, { cause, shareable: true });
    }
    // Many sites behind one address (a hospital's gateway) can outrun the server's per-address rate limit: "not now" is not a bad model.
    if ((response.status !== 429 && response.status !== 503) || attempt >= MODEL_FETCH_RETRIES) break;
    await response.body?.cancel();
    await sleep(modelFetchRetryDelayMs(response.headers.get('retry-after'), attempt, jitter()));
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
  const bytes = await readBodyAtMost(response, ref.bytes, 'the model body');
  if (bytes.byteLength !== ref.bytes) throw new FedtuneError('model_integrity', `the model body is ${bytes.byteLength} bytes, the instruction says ${ref.bytes}`);
  const hash = sha256Hex(bytes);
  if (hash !== ref.sha256) throw new FedtuneError('model_integrity', `the model's bytes hash to ${hash.slice(0, 16)}…, not the ${ref.sha256.slice(0, 16)}… the instruction names: refused`);
  return bytes;
}
