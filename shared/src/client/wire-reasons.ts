import type { FedtuneError, FedtuneErrorCode } from '../errors.ts';
import { clipText } from '../text/clip-text.ts';

/**
 * Codes whose messages speak of what the coordinator sent or agreed (its instruction, model, weights, terms and
 * protocol) or of the site's policy and privacy ledger — never of the site's own data, files or machine: a
 * siteFailure carries those messages as they are.
 */
const COORDINATOR_SIDE_CODES: ReadonlySet<FedtuneErrorCode> = new Set<FedtuneErrorCode>([
  'shape_mismatch',
  'dtype_mismatch',
  'stale_round',
  'not_selected',
  'malformed_payload',
  'payload_too_large',
  'codec',
  'update_encoding',
  'model_integrity',
  'model_refused',
  'policy_refused',
  'privacy_budget',
  'unauthorized',
  'rate_limited',
]);

/** What the coordinator is told instead of the message of an error about the site's own side. */
const LOCAL_REASONS: Partial<Record<FedtuneErrorCode, string>> = {
  data: "the site's data could not be used",
  persistence: 'the site could not write a file',
  config: "the site's configuration does not allow it",
  backend: "the site's tfjs backend failed",
  non_finite: 'training produced non-finite values',
  timeout: 'the site timed out',
  transport: 'the site lost its connection',
};

/**
 * Why an instruction failed, as the site's siteFailure tells the coordinator (its report, log and audit log keep it):
 * the error's own words only for codes about what the coordinator sent (COORDINATOR_SIDE_CODES) or an error marked
 * shareable (its message holds shapes and counts only, e.g. data that does not fit the run's model); for anything about
 * the site's side — its data, files, paths, label values, machine — a fixed sentence by code. The full message
 * stays in the site's own events and log. Raw site data never leaves the site, not even inside an error message.
 */
export function wireFailureReason(e: FedtuneError): string {
  if (COORDINATOR_SIDE_CODES.has(e.code) || e.shareable) return clipText(e.message, 1900);
  return `${LOCAL_REASONS[e.code] ?? 'the site failed'} (${e.code}; the details stay in the site's own log)`;
}

/** What a site refusing a run's terms over its classes tells the coordinator: not which label, nor where it was read. */
export const CLASSES_REFUSED_REASON = "a label in this site's data is not a class of this run (the site's own log says which)";
