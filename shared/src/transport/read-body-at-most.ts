import { FedtuneError } from '../errors.ts';

/**
 * An HTTP response's body, read as it streams and refused ('model_integrity' or the code given) once it passes
 * `limit` bytes: without a Content-Length (a chunked body) a peer could otherwise make the reader buffer any
 * amount before a length check. Nothing is allocated for bytes that have not arrived; the chunks are joined
 * once at the end. `what` names the body in the refusal.
 */
export async function readBodyAtMost(response: Response, limit: number, what: string, code: 'model_integrity' | 'malformed_payload' = 'model_integrity'): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.byteLength > limit) {
      await reader.cancel();
      throw new FedtuneError(code, `${what} is more than the ${limit} bytes expected: refused after reading ${length}`);
    }
    chunks.push(value);
    length += value.byteLength;
  }
  // Stryker disable next-line ConditionalExpression: equivalent: one chunk joined below is a copy of the same bytes
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
