/**
 * One error class for the whole system, with a stable code union.
 * Every error that crosses a module boundary is a FedtuneError; `toFedtuneError` turns anything thrown into one.
 */
export type FedtuneErrorCode =
  | 'shape_mismatch'
  | 'dtype_mismatch'
  | 'non_finite'
  | 'invalid_count'
  | 'update_norm'
  | 'stale_round'
  | 'not_selected'
  | 'duplicate_result'
  | 'malformed_payload'
  | 'payload_too_large'
  | 'codec'
  | 'quorum_not_met'
  | 'no_updates'
  | 'unauthorized'
  /** A hello claims a site name whose connection is still alive (no site tokens to prove who is who). */
  | 'site_in_use'
  | 'rate_limited'
  | 'config'
  | 'data'
  | 'backend'
  | 'transport'
  | 'timeout'
  | 'not_found'
  /** The site's model inspection refused the global model (a trap construction; docs/site-policy.md). */
  | 'model_refused'
  | 'persistence'
  /** A site refuses a round or a run that would spend more ε than its policy allows (privacy ledger). */
  | 'privacy_budget'
  /** A site's policy (SitePolicy) refuses the run's terms or an instruction that departs from them. */
  | 'policy_refused'
  /** An update not in the run's update encoding (a float32 update in an int8 run, or the reverse; update-codec.ts). */
  | 'update_encoding'
  /** Model bytes fetched over HTTP whose sha-256 is not the one the instruction names (a tampered body or cache). */
  | 'model_integrity'
  /** A cluster message of another leadership than the current one: its fencing token is not the leader's (coordinator/src/cluster/fencing-check.ts). */
  | 'stale_leader'
  /** A cluster node holds its share of the sites: the site connects to another node of its list (site-placement.ts). */
  | 'node_busy'
  | 'internal';

export class FedtuneError extends Error {
  override readonly name = 'FedtuneError';
  /**
   * The message holds nothing of a site's own data, files or machine (only shapes, counts and names the run
   * already knows), so a site may tell it to the coordinator whatever the code (shared/src/client/wire-reasons.ts).
   */
  readonly shareable: boolean;
  constructor(
    readonly code: FedtuneErrorCode,
    message: string,
    options?: { cause?: unknown; shareable?: boolean },
  ) {
    super(message, options);
    this.shareable = options?.shareable === true;
  }

  toJSON(): { code: FedtuneErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function toFedtuneError(err: unknown, fallback: FedtuneErrorCode = 'internal'): FedtuneError {
  if (err instanceof FedtuneError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FedtuneError(fallback, message, { cause: err });
}

export function isFedtuneError(err: unknown, code?: FedtuneErrorCode): err is FedtuneError {
  return err instanceof FedtuneError && (code === undefined || err.code === code);
}
