import { clipText } from '../text/clip-text.ts';
import { AuditEntry, auditEntryHash, GENESIS_PREV, type AuditHead } from './audit-entry.ts';
import { RedactedAuditEntry, type AuditLogEntry } from './redacted-audit-entry.ts';

/**
 * The longest line an audit log may hold: a bound on what a verifier reads from a log someone else wrote, above the
 * largest entry the protocol lets a coordinator write — a secure-aggregation round of MAX_FEDERATION_SITES (10,000)
 * sites with 128-character ids, ~4.6 M characters (a join or a plain round is far shorter). The writer refuses longer.
 */
export const MAX_AUDIT_LINE_CHARS = 16 * 1024 * 1024;

export type AuditChainVerdict<E extends AuditLogEntry = AuditEntry> =
  | ({ ok: true; good: E[]; /** How many of them are redacted (a site's copy). */ redacted: number } & AuditHead)
  | {
      ok: false;
      /** The 1-based line of the first bad entry. */
      line: number;
      /** Its seq, when it could be read. */
      seq?: number;
      reason: string;
      /** One line naming the first bad entry. */
      message: string;
      /** The entries before it, all good. */
      good: E[];
    };

export interface VerifyAuditOptions {
  /** A head a site was told (the run report's `audit.head`, or a copy it kept): a log that does not hold it fails. */
  expectedHead?: string;
}

export interface VerifyRedactedAuditOptions extends VerifyAuditOptions {
  /**
   * Accept redacted entries (a site's copy of the log, docs/audit.md): their seq and prev are checked, their
   * hash — of data the copy withholds — is taken as the commitment it is. Without it a redacted entry fails:
   * the coordinator's own log holds every entry whole.
   */
  allowRedacted: true;
}

/**
 * Checks a whole audit log (the text of `audit.jsonl`): every line one entry, seq 0, 1, 2, … with no gap,
 * every hash the hash of its entry, every prev the hash of the entry before (GENESIS_PREV for the first).
 * Any edit, deletion, insertion, reordering or truncation mid-line is found, and the first bad entry named.
 * A deletion of the last entries is found only against a head known from elsewhere (`expectedHead`, which
 * must be the hash of one of the log's entries: the log may have grown since).
 */
export function verifyAuditChain(text: string, options?: VerifyAuditOptions & { allowRedacted?: false }): AuditChainVerdict;
export function verifyAuditChain(text: string, options: VerifyRedactedAuditOptions): AuditChainVerdict<AuditLogEntry>;
export function verifyAuditChain(text: string, options: VerifyAuditOptions & { allowRedacted?: boolean } = {}): AuditChainVerdict<AuditLogEntry> {
  const good: AuditLogEntry[] = [];
  let redacted = 0;
  const lines = text.split('\n');
  // A complete log ends with a newline: the last piece is empty. Anything else is a line cut short.
  const last = lines.pop()!;
  const fail = (index: number, reason: string, seq?: number): AuditChainVerdict<AuditLogEntry> => ({
    ok: false,
    line: index + 1,
    ...(seq !== undefined ? { seq } : {}),
    reason,
    message: `audit log broken at line ${index + 1}${seq !== undefined ? ` (seq ${seq})` : ''}: ${reason}`,
    good,
  });
  let prev = GENESIS_PREV;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.length > MAX_AUDIT_LINE_CHARS) return fail(i, `line longer than ${MAX_AUDIT_LINE_CHARS} characters`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      return fail(i, line.trim() === '' ? 'empty line' : 'not valid JSON (edited or cut short)');
    }
    const isRedactedLine = parsed !== null && typeof parsed === 'object' && 'redacted' in parsed;
    if (isRedactedLine && !options.allowRedacted) return fail(i, "a redacted entry (a site's copy of the log): the coordinator's own log holds every entry whole");
    const result = (isRedactedLine ? RedactedAuditEntry : AuditEntry).safeParse(parsed);
    if (!result.success) {
      const issue = result.error.issues[0];
      // Stryker disable next-line StringLiteral: equivalent: an entry's issues are one key deep (data's values are unknown), so the separator never shows.
      return fail(i, clipText(`malformed entry: ${issue.path.join('.') || '(entry)'}: ${issue.message}`));
    }
    const entry = result.data;
    if (entry.seq !== i) return fail(i, `seq ${entry.seq} where ${i} was expected (an entry was deleted, inserted or moved)`, entry.seq);
    if (entry.prev !== prev) return fail(i, `prev does not match the hash of the entry before (that entry was edited, deleted, inserted or moved)`, entry.seq);
    if ('data' in entry) {
      // An entry's data nested deeper than the stack reaches (JSON.parse takes more depth than hashing does) was never
      // written by a coordinator: refused as an edit, never thrown (it ended `audit verify` with a stack overflow).
      let hash: string;
      try {
        hash = auditEntryHash(entry);
      } catch (err) {
        if (!(err instanceof RangeError)) throw err;
        return fail(i, 'data nested too deeply to hash (the entry was edited)', entry.seq);
      }
      if (entry.hash !== hash) return fail(i, 'hash does not match the entry (the entry was edited)', entry.seq);
    } else redacted++;
    good.push(entry);
    prev = entry.hash;
  }
  if (last !== '') return fail(lines.length, 'the last line is cut short (no newline at its end)');
  // An append-only log may have grown since the head was taken: the head must be one of its entries.
  if (options.expectedHead !== undefined && !good.some((e) => e.hash === options.expectedHead)) {
    const reason = `the expected head ${clipText(options.expectedHead, 64)} is not in the log, which ends at ${prev} after ${good.length} entries (entries were deleted or rewritten)`;
    return { ok: false, line: lines.length + 1, reason, message: `audit log head mismatch: ${reason}`, good };
  }
  return { ok: true, good, redacted, count: good.length, head: prev };
}
