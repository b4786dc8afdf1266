import type { FedtuneErrorCode } from '@fedtune/shared';

/** HTTP status for each error code (the error catalogue). */
export const errorStatus: Record<FedtuneErrorCode, number> = {
  shape_mismatch: 400,
  dtype_mismatch: 400,
  non_finite: 400,
  invalid_count: 400,
  update_norm: 400,
  stale_round: 409,
  not_selected: 409,
  duplicate_result: 409,
  malformed_payload: 400,
  payload_too_large: 413,
  codec: 400,
  update_encoding: 400,
  model_integrity: 502,
  quorum_not_met: 503,
  no_updates: 503,
  unauthorized: 401,
  site_in_use: 409,
  rate_limited: 429,
  policy_refused: 403,
  config: 400,
  data: 400,
  backend: 500,
  transport: 502,
  timeout: 504,
  not_found: 404,
  model_refused: 403,
  persistence: 500,
  privacy_budget: 409,
  stale_leader: 409,
  node_busy: 503,
  internal: 500,
};

/** Codes only the HTTP API answers with (they never cross the engine or the wire), and their status. */
export const apiErrorStatus = {
  /** The run already completed or aborted (e.g. `POST /api/runs/:id/stop`). */
  run_finished: 409,
  /** A body whose Content-Type no route reads (the API reads application/json). */
  unsupported_media_type: 415,
  /** The request's headers or body did not arrive within the server's timeout. */
  request_timeout: 408,
  /** The request's headers are larger than the server accepts. */
  headers_too_large: 431,
} as const;

export type ApiErrorCode = keyof typeof apiErrorStatus;

/**
 * The code for an error that carries only an HTTP status (fastify's and node's own: body too large, bad
 * content type, malformed JSON, a timeout), so that the status answered and the code's status always agree.
 * A status with no code of its own becomes 400 malformed_payload (4xx) or 500 internal (5xx).
 */
export function codeForStatus(status: number | undefined): { status: number; code: FedtuneErrorCode | ApiErrorCode } {
  switch (status) {
    case 401:
      return { status, code: 'unauthorized' };
    case 404:
      return { status, code: 'not_found' };
    case 408:
      return { status, code: 'request_timeout' };
    case 413:
      return { status, code: 'payload_too_large' };
    case 415:
      return { status, code: 'unsupported_media_type' };
    case 429:
      return { status, code: 'rate_limited' };
    case 431:
      return { status, code: 'headers_too_large' };
  }
  const s = status ?? 0;
  if (s >= 400 && s < 500) return { status: 400, code: 'malformed_payload' };
  return { status: 500, code: 'internal' };
}
