import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchModelWeights, isRetryableNetworkFailure, modelFetchRetryDelayMs, networkFailureReason, type ModelFetch } from '../../shared/src/client/fetch-model-weights.ts';
import { readBodyAtMost } from '../../shared/src/transport/read-body-at-most.ts';
import { sha256Hex } from '../../shared/src/audit/sha256-hex.ts';
import { FedtuneError } from '../../shared/src/errors.ts';

// The model bytes a site fetches from a coordinator it does not trust, exactly (mutation module model-fetch): each
// refusal's code and words — what a server sends is quoted cut —, bodies a server may leave out, and the waits.
const body = new Uint8Array([0x46, 0x54, 0x57, 0x31, 0, 0, 0, 0, 1, 2, 3, 4]);
const ref = { path: '/api/v1/models/2/weights', sha256: sha256Hex(body), bytes: body.length };
const etag = `"${ref.sha256}"`;
const longServer = `http://h:1/${'p'.repeat(300)}`;
const url = `${longServer}${ref.path}`;
const answer = (status: number, content: Uint8Array | null, headers: Record<string, string> = {}): ModelFetch => async () => new Response(content === null ? null : content.slice(), { status, headers });
const refusal = async (promise: Promise<unknown>) => {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FedtuneError);
  return err as FedtuneError;
};
const noWait = { sleep: async () => {}, jitter: () => 0 };

describe('fetchModelWeights: each refusal, exactly', () => {
  it.each([
    ['HTTP 404 without a body', answer(404, null), 'model_integrity', `the model at ${url.slice(0, 200)} answered HTTP 404`],
    ['HTTP 503 without a body, for every retry', answer(503, null), 'model_integrity', `the model at ${url.slice(0, 200)} answered HTTP 503`],
    ['an ETag of 200 characters, without a body', answer(200, null, { etag: `"${'e'.repeat(198)}"` }), 'model_integrity', `the model's ETag "${'e'.repeat(79)} is not the sha-256 the instruction names (${ref.sha256.slice(0, 16)}…)`],
    ['a declared length that is not the reference\'s, without a body', answer(200, null, { etag, 'content-length': '13' }), 'model_integrity', `the model is 13 bytes, the instruction says ${ref.bytes}`],
    ['a declared length that is not the reference\'s', answer(200, body, { etag, 'content-length': '11' }), 'model_integrity', `the model is 11 bytes, the instruction says ${ref.bytes}`],
    ['a body shorter than the reference, no length declared', answer(200, body.subarray(0, 11), { etag }), 'model_integrity', `the model body is 11 bytes, the instruction says ${ref.bytes}`],
    ['a body longer than the reference, no length declared', answer(200, new Uint8Array([...body, 0]), { etag }), 'model_integrity', `the model body is more than the ${ref.bytes} bytes expected: refused after reading 0`],
    ['bytes that hash to something else', answer(200, body.map((b, i) => (i === 11 ? b ^ 1 : b)), { etag }), 'model_integrity', `the model's bytes hash to ${sha256Hex(body.map((b, i) => (i === 11 ? b ^ 1 : b))).slice(0, 16)}…, not the ${ref.sha256.slice(0, 16)}… the instruction names: refused`],
  ])('%s', async (_n, fetcher, code, message) => {
    const err = await refusal(fetchModelWeights(longServer, ref, { siteId: 's' }, fetcher, noWait));
    expect({ code: err.code, message: err.message }).toEqual({ code, message });
  });

  it('a request that fails below HTTP: the URL cut, the reason, the attempts, and the failure as its cause', async () => {
    const cause = new TypeError('fetch failed', { cause: { code: 'ECONNRESET', message: 'socket hang up' } });
    const err = await refusal(fetchModelWeights(longServer, ref, { siteId: 's' }, async () => { throw cause; }, noWait));
    expect(err.code).toBe('transport');
    expect(err.message).toBe(`cannot fetch the model from ${url.slice(0, 200)}: fetch failed (ECONNRESET: socket hang up) (6 attempts)`);
    expect(err.cause).toBe(cause);
  });

  it('a request the caller aborted is not asked again: one attempt', async () => {
    const abort = new DOMException('aborted', 'AbortError');
    let calls = 0;
    const err = await refusal(fetchModelWeights('http://h:1', ref, { siteId: 's' }, async () => { calls++; throw abort; }, noWait));
    expect(calls).toBe(1);
    expect(err.message).toBe('cannot fetch the model from http://h:1/api/v1/models/2/weights: aborted');
  });
});

describe('fetchModelWeights: the default wait is a real timer', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('after a dropped connection it asks again only once the backoff has passed', async () => {
    vi.useFakeTimers();
    let calls = 0;
    const fetcher: ModelFetch = async () => {
      calls++;
      if (calls === 1) throw new TypeError('fetch failed');
      return new Response(body, { status: 200, headers: { etag } });
    };
    const done = fetchModelWeights('http://h:1', ref, { siteId: 's' }, fetcher, { jitter: () => 0 });
    await vi.advanceTimersByTimeAsync(249);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    expect(Array.from(await done)).toEqual(Array.from(body));
  });
});

describe('the helpers, at their edges', () => {
  it.each([
    ['a blank Retry-After is no Retry-After: the backoff', '   ', 2, 1000],
    ['an empty one too', '', 0, 250],
    ['a sane one, in seconds', '2', 5, 2000],
    ['a negative one: the backoff', '-1', 1, 500],
    ['past the longest wait: the longest', '3600', 0, 10_000],
  ])('%s', (_n, retryAfter, attempt, ms) => {
    expect(modelFetchRetryDelayMs(retryAfter, attempt, 0)).toBe(ms);
  });

  it('a thrown nothing (null, undefined) is described, never a TypeError', () => {
    expect(networkFailureReason(null)).toBe('null');
    expect(networkFailureReason(undefined)).toBe('undefined');
    expect(isRetryableNetworkFailure(null)).toBe(false);
    expect(isRetryableNetworkFailure(undefined)).toBe(false);
  });

  it('a response without a body reads as no bytes', async () => {
    expect(await readBodyAtMost(new Response(null), 10, 'the body')).toEqual(new Uint8Array(0));
  });

  it('chunks are joined in order', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array([1, 2]));
        controller.enqueue(new Uint8Array([3]));
        controller.enqueue(new Uint8Array([4, 5, 6]));
        controller.close();
      },
    });
    expect(Array.from(await readBodyAtMost(new Response(stream), 6, 'the body'))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
