import type { Socket } from 'node:net';
import { clipText, FedtuneError, oneLine, type FedtuneErrorCode } from '@fedtune/shared';
import { codeForStatus, errorStatus, type ApiErrorCode } from './error-status.ts';

/** Longest message an error reply carries: peers choose URLs and ids, so what is echoed back is clipped (shared's clipText). */
export const MAX_ERROR_MESSAGE = 300;

export interface HttpError {
  status: number;
  code: FedtuneErrorCode | ApiErrorCode;
  message: string;
}

/**
 * Turns anything a route, hook or fastify itself threw into the answer: a status and a code that agree
 * (the code's status in the catalogue), and a one-line clipped message. Internal errors say no more
 * than that they happened (the log has the rest).
 */
export function describeHttpError(err: unknown): HttpError {
  // A message may quote what the request sent (a run id, a file name, decoded from the URL): one line, clipped.
  if (err instanceof FedtuneError) return { status: errorStatus[err.code], code: err.code, message: oneLine(err.message) };
  const e = err as { statusCode?: number; validation?: unknown; message?: unknown };
  const message = oneLine(String(e?.message ?? err).split('\n', 1)[0]);
  // Schema validation of a body, params or querystring (fastify with ajv): the request names what is wrong.
  if (e?.validation) return { status: 400, code: 'config', message };
  const { status, code } = codeForStatus(typeof e?.statusCode === 'number' ? e.statusCode : undefined);
  if (code === 'internal') return { status, code, message: 'internal error (see the coordinator log)' };
  return { status, code, message };
}

/**
 * Fastify's `clientErrorHandler`: the answer to a request node could not read (headers too large, headers
 * or body not in time, a malformed request line), in the same typed body as every other error.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const { status, code, message } =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? { status: 408, code: 'request_timeout', message: 'the request did not arrive in time' }
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? { status: 431, code: 'headers_too_large', message: 'the request headers are too large' }
        : { status: 400, code: 'malformed_payload', message: 'malformed HTTP request' };
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
