import { describe, expect, it } from 'vitest';
import { fetchModelWeights, MODEL_FETCH_MAX_WAIT_MS, MODEL_FETCH_RETRIES, modelFetchRetryDelayMs, type ModelFetch } from '../../shared/src/client/fetch-model-weights.ts';
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
