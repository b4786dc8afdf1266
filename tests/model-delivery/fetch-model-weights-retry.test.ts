import { describe, expect, it } from 'vitest';
import { fetchModelWeights, MODEL_FETCH_MAX_WAIT_MS, MODEL_FETCH_RETRIES, modelFetchRetryDelayMs, networkFailureReason, type ModelFetch } from '../../shared/src/client/fetch-model-weights.ts';
import { sha256Hex } from '../../shared/src/audit/sha256-hex.ts';

const body = new Uint8Array([0x46, 0x54, 0x57, 0x31, 0, 0, 0, 0, 9, 8, 7, 6]);
const ref = { path: '/api/v1/models/3/weights', sha256: sha256Hex(body), bytes: body.length };
const etag = `"${ref.sha256}"`;

/** Answers the statuses in order (then 200 with the body), recording the waits the site took between them. */
function answering(statuses: Array<[number, Record<string, string>]>) {
  const waits: number[] = [];
  let calls = 0;
  const fetcher: ModelFetch = async () => {
    const next = statuses[calls++];
    if (next) return new Response('{"code":"rate_limited"}', { status: next[0], headers: next[1] });
    return new Response(body.slice(), { status: 200, headers: { etag } });
  };
  return { fetcher, waits, calls: () => calls, retry: { sleep: async (ms: number) => void waits.push(ms), jitter: () => 0 } };
}

describe('fetchModelWeights: "not now" (429, 503) is retried, never taken for a bad model', () => {
  it('waits the Retry-After of each 429/503 and returns the verified bytes', async () => {
    const s = answering([
      [429, { 'retry-after': '1' }],
      [503, { 'retry-after': '2' }],
    ]);
    const got = await fetchModelWeights('http://h:1', ref, { siteId: 's' }, s.fetcher, s.retry);
    expect(Array.from(got)).toEqual(Array.from(body));
    expect(s.waits).toEqual([1000, 2000]);
    expect(s.calls()).toBe(3);
  });

  it(`gives up after ${MODEL_FETCH_RETRIES} retries with one line naming the status`, async () => {
    const s = answering(Array.from({ length: MODEL_FETCH_RETRIES + 1 }, () => [429, {}] as [number, Record<string, string>]));
    await expect(fetchModelWeights('http://h:1', ref, { siteId: 's' }, s.fetcher, s.retry)).rejects.toMatchObject({ code: 'model_integrity', message: expect.stringContaining('HTTP 429') });
    expect(s.calls()).toBe(MODEL_FETCH_RETRIES + 1);
    expect(s.waits).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it.each([400, 401, 404, 500])('does not retry HTTP %i', async (status) => {
    const s = answering([[status, {}]]);
    await expect(fetchModelWeights('http://h:1', ref, { siteId: 's' }, s.fetcher, s.retry)).rejects.toMatchObject({ message: expect.stringContaining(`HTTP ${status}`) });
    expect(s.calls()).toBe(1);
    expect(s.waits).toEqual([]);
  });
});

describe('modelFetchRetryDelayMs', () => {
  it.each([
    ['3', 0, 0, 3000],
    ['0', 2, 0, 0],
    ['0.5', 0, 0, 500],
    [null, 0, 0, 250],
    [null, 1, 0, 500],
    [null, 3, 0, 2000],
    ['', 1, 0, 500],
    ['soon', 2, 0, 1000],
    ['-1', 0, 0, 250],
    ['3', 0, 0.5, 3375],
    [null, 0, 0.99, 312],
    ['3600', 0, 0, MODEL_FETCH_MAX_WAIT_MS],
    [null, 10, 0, MODEL_FETCH_MAX_WAIT_MS],
  ] as const)('Retry-After %s, attempt %i, jitter %f → %i ms', (retryAfter, attempt, jitter, ms) => {
    expect(modelFetchRetryDelayMs(retryAfter, attempt, jitter)).toBe(ms);
  });
});

/** A fetch that fails below HTTP as the platform's does: TypeError('fetch failed') with undici's reason in `cause`. */
const dropped = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });

describe('fetchModelWeights: a dropped connection is asked again (idempotent GET, verified bytes)', () => {
  function failing(failures: number, error: () => unknown = dropped) {
    const waits: number[] = [];
    let calls = 0;
    const fetcher: ModelFetch = async () => {
      if (calls++ < failures) throw error();
      return new Response(body.slice(), { status: 200, headers: { etag } });
    };
    return { fetcher, calls: () => calls, waits, retry: { sleep: async (ms: number) => void waits.push(ms), jitter: () => 0 } };
  }

  it('retries a reset keep-alive connection with a doubling wait and returns the verified bytes', async () => {
    const s = failing(2);
    const got = await fetchModelWeights('http://h:1', ref, { siteId: 's' }, s.fetcher, s.retry);
    expect(Array.from(got)).toEqual(Array.from(body));
    expect(s.calls()).toBe(3);
    expect(s.waits).toEqual([250, 500]);
  });

  it(`gives up after ${MODEL_FETCH_RETRIES} retries: 'transport', naming undici's code and reason and the attempts`, async () => {
    const s = failing(Infinity);
    const err = await fetchModelWeights('http://h:1', ref, { siteId: 's' }, s.fetcher, s.retry).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'transport' });
    expect((err as Error).message).toBe(`cannot fetch the model from http://h:1/api/v1/models/3/weights: fetch failed (UND_ERR_SOCKET: other side closed) (${MODEL_FETCH_RETRIES + 1} attempts)`);
    expect(s.calls()).toBe(MODEL_FETCH_RETRIES + 1);
    expect(s.waits).toEqual([250, 500, 1000, 2000, 4000]);
  });

  it.each([
    ['an error that is not a network failure', () => new Error('boom'), 'boom'],
    ['an abort (the caller stopped it)', () => Object.assign(new TypeError('This operation was aborted'), { name: 'AbortError' }), 'This operation was aborted'],
    ['a timeout the caller set', () => Object.assign(new TypeError('timed out'), { name: 'TimeoutError' }), 'timed out'],
    ['a DOMException abort', () => new DOMException('aborted', 'AbortError'), 'aborted'],
  ])('does not retry %s', async (_what, error, message) => {
    const s = failing(Infinity, error);
    const err = await fetchModelWeights('http://h:1', ref, { siteId: 's' }, s.fetcher, s.retry).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'transport' });
    expect((err as Error).message).toBe(`cannot fetch the model from http://h:1/api/v1/models/3/weights: ${message}`);
    expect(s.calls()).toBe(1);
    expect(s.waits).toEqual([]);
  });

  it('over a real HTTP server that drops the first two connections, the platform fetch gets the model on the third', async () => {
    const { createServer } = await import('node:http');
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      if (requests <= 2) return void req.socket.destroy();
      res.writeHead(200, { etag, 'content-length': String(body.length) });
      res.end(Buffer.from(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (server.address() as { port: number }).port;
      const got = await fetchModelWeights(`http://127.0.0.1:${port}`, ref, { siteId: 's' }, undefined, { sleep: async () => undefined, jitter: () => 0 });
      expect(Array.from(got)).toEqual(Array.from(body));
      expect(requests).toBe(3);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('networkFailureReason', () => {
  it.each([
    [dropped(), 'fetch failed (UND_ERR_SOCKET: other side closed)'],
    [Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), 'fetch failed (ECONNREFUSED)'],
    [Object.assign(new TypeError('fetch failed'), { cause: { message: 'connect ECONNREFUSED 127.0.0.1:9' } }), 'fetch failed (connect ECONNREFUSED 127.0.0.1:9)'],
    [Object.assign(new TypeError('fetch failed'), { cause: { code: 'X', message: 'fetch failed' } }), 'fetch failed (X)'],
    [new Error('plain'), 'plain'],
    ['a string', 'a string'],
    [Object.assign(new TypeError('y'.repeat(500)), { cause: { code: 'c'.repeat(100), message: 'm'.repeat(500) } }), `${'y'.repeat(120)} (${'c'.repeat(40)}: ${'m'.repeat(120)})`],
  ])('%#: %s', (err, reason) => {
    expect(networkFailureReason(err)).toBe(reason);
  });
});
