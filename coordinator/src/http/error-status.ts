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
  quorum_not_met: 503,
  no_updates: 503,
  unauthorized: 401,
  site_in_use: 409,
  rate_limited: 429,
  config: 400,
  data: 400,
  backend: 500,
  transport: 502,
  timeout: 504,
  not_found: 404,
  internal: 500,
};

/** Codes only the HTTP API answers with (they never cross the engine or the wire), and their status. */
export const apiErrorStatus = {
  /** The run already completed or aborted (e.g. `POST /api/runs/:id/stop`). */
  run_finished: 409,
} as const;

export type ApiErrorCode = keyof typeof apiErrorStatus;
