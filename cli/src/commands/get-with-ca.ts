import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

/** Statuses whose response has no body (the Response constructor refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * GET `url` as `fetch` does, but over node:http(s) so an https:// coordinator is verified as the site's
 * connection verifies it (socketio-client.ts): against `ca` (`fedtune client --ca`) when given, else the
 * system CAs. The body streams (read it with readBodyAtMost); `timeoutMs` bounds the whole exchange.
 */
export function getWithCa(url: URL, options: { headers?: Record<string, string>; ca?: string; timeoutMs: number }): Promise<Response> {
  const https = url.protocol === 'https:';
  return new Promise<Response>((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(
      url,
      { method: 'GET', headers: options.headers ?? {}, signal: AbortSignal.timeout(options.timeoutMs), ...(https && options.ca !== undefined ? { ca: options.ca, rejectUnauthorized: true } : {}) },
      (res) => resolve(toResponse(res)),
    );
    request.on('error', reject);
    request.end();
  });
}

function toResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const status = res.statusCode ?? 0;
  if (NO_BODY.has(status) || status < 200 || status > 599) {
    res.resume();
    return new Response(null, { status: status >= 200 && status <= 599 ? status : 502, headers });
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers });
}
