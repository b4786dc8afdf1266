import { describe, expect, it } from 'vitest';
import { fetchModelWeights, type ModelFetch } from '../../shared/src/client/fetch-model-weights.ts';
import { sha256Hex } from '../../shared/src/audit/sha256-hex.ts';

const body = new Uint8Array([0x46, 0x54, 0x57, 0x31, 0, 0, 0, 0, 1, 2, 3, 4]);
const ref = { path: '/api/v1/models/2/weights', sha256: sha256Hex(body), bytes: body.length };
const etag = `"${ref.sha256}"`;

function serving(status: number, bytes: Uint8Array, headers: Record<string, string>): { fetcher: ModelFetch; seen: Array<{ url: string; headers: Record<string, string> }> } {
  const seen: Array<{ url: string; headers: Record<string, string> }> = [];
  return {
    seen,
    fetcher: async (url, init) => {
      seen.push({ url, headers: init.headers });
      return new Response(status === 304 ? null : bytes.slice(), { status, headers });
    },
  };
}

describe('fetchModelWeights: the site fetches and verifies model bytes', () => {
  it('GETs the path on its coordinator with its site id and token, and returns the verified bytes', async () => {
    const { fetcher, seen } = serving(200, body, { etag });
    const got = await fetchModelWeights('https://coord.example:8443/', ref, { siteId: 'site-1', token: 't0k' }, fetcher);
    expect(Array.from(got)).toEqual(Array.from(body));
    expect(seen).toEqual([{ url: 'https://coord.example:8443/api/v1/models/2/weights', headers: { 'x-fedtune-site': 'site-1', authorization: 'Bearer t0k' } }]);
    const untokened = serving(200, body, { etag });
    await fetchModelWeights('http://h:1', ref, { siteId: 's' }, untokened.fetcher);
    expect(untokened.seen[0].headers).toEqual({ 'x-fedtune-site': 's' });
  });

  it.each([
    ['a tampered body (same length, same ETag)', 200, body.map((b, i) => (i === 11 ? b ^ 1 : b)), { etag }, 'model_integrity', 'hash'],
    ['another ETag', 200, body, { etag: `"${'0'.repeat(64)}"` }, 'model_integrity', 'ETag'],
    ['a weak ETag', 200, body, { etag: `W/${etag}` }, 'model_integrity', 'ETag'],
    ['no ETag', 200, body, {}, 'model_integrity', 'ETag'],
    ['a longer body', 200, new Uint8Array([...body, 0]), { etag }, 'model_integrity', 'bytes'],
    ['a shorter body', 200, body.subarray(0, 11), { etag }, 'model_integrity', 'bytes'],
    ['404', 404, new Uint8Array(0), {}, 'model_integrity', 'HTTP 404'],
    ['304 (nothing cached here)', 304, new Uint8Array(0), { etag }, 'model_integrity', 'HTTP 304'],
    ['401', 401, new Uint8Array(0), {}, 'unauthorized', 'HTTP 401'],
  ] as const)('refuses %s', async (_, status, bytes, headers, code, says) => {
    const { fetcher } = serving(status, bytes as Uint8Array, headers);
    await expect(fetchModelWeights('http://h:1', ref, { siteId: 's' }, fetcher)).rejects.toMatchObject({ code, message: expect.stringContaining(says) });
  });

  it('a body with no Content-Length that goes on past the reference\'s size is refused as it streams, and the stream is cancelled', async () => {
    let sent = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        // 64 KB chunks for ever (a chunked response from a hostile server): only the site's limit ends it.
        sent += 65536;
        controller.enqueue(new Uint8Array(65536));
      },
      cancel() {
        cancelled = true;
      },
    });
    const big = { ...ref, bytes: 1_000_000 };
    const fetcher: ModelFetch = async () => new Response(endless, { status: 200, headers: { etag: `"${big.sha256}"` } });
    await expect(fetchModelWeights('http://h:1', big, { siteId: 's' }, fetcher)).rejects.toMatchObject({
      code: 'model_integrity',
      message: 'the model body is more than the 1000000 bytes expected: refused after reading 983040',
    });
    expect(cancelled).toBe(true);
    // 15 chunks of 64 KB kept (983,040 bytes), the 16th refused: read up to one chunk past the limit (plus what the stream had queued), not more.
    expect(sent).toBeLessThanOrEqual(1_000_000 + 4 * 65536);
  });

  it('a body exactly the reference\'s size, in uneven chunks and no Content-Length, is read whole', async () => {
    const chunks = [body.subarray(0, 5), body.subarray(5, 6), body.subarray(6)];
    const fetcher: ModelFetch = async () => new Response(new ReadableStream({ start(c) { for (const ch of chunks) c.enqueue(ch.slice()); c.close(); } }), { status: 200, headers: { etag } });
    expect(Array.from(await fetchModelWeights('http://h:1', ref, { siteId: 's' }, fetcher))).toEqual(Array.from(body));
  });

  it('a failed request is a transport error naming the URL', async () => {
    const fetcher: ModelFetch = async () => {
      throw new Error('ECONNREFUSED');
    };
    await expect(fetchModelWeights('http://h:1', ref, { siteId: 's' }, fetcher)).rejects.toMatchObject({ code: 'transport', message: expect.stringContaining('http://h:1/api/v1/models/2/weights') });
  });
});
