import { readFileSync } from 'node:fs';
import { refuseMissingInputPaths } from './input-paths.ts';
import { Command, InvalidArgumentError } from 'commander';
import { clipText, compareSiteLog, FedtuneError, parseSiteLog, verifyAuditChain } from '@fedtune/shared';
import { checkInputFile } from '@fedtune/shared/node';

/** What `fedtune audit verify` found: one verdict for the audit log and one per site log. */
export interface AuditVerifyResult {
  ok: boolean;
  /** One line: the verdict. */
  message: string;
  count?: number;
  /** How many entries are redacted (a site's copy of the log). */
  redacted?: number;
  head?: string;
  runId?: string;
  siteLogs: Array<{ path: string; ok: boolean; siteId?: string; updates?: number; message?: string }>;
}

function readText(path: string, what: string): string {
  try {
    checkInputFile(path, { what, code: 'not_found' }); // a pipe or device would block the read for ever
    return readFileSync(path, 'utf8');
  } catch (err) {
    // A system error by its code (ENOENT); a refusal of checkInputFile (a pipe, a directory) by its sentence.
    const system = (err instanceof FedtuneError ? err.cause : err) as NodeJS.ErrnoException | undefined;
    const reason = system?.code ?? (err as Error).message;
    throw new FedtuneError('not_found', `cannot read the ${what} ${clipText(path)}: ${clipText(reason)}`);
  }
}

/** Verifies an audit log's chain (against a known head) and each site log against it. Reads the files. */
export function verifyAuditFiles(auditPath: string, siteLogPaths: readonly string[], expectedHead?: string): AuditVerifyResult {
  // A site's copy (GET …/audit with a site token) has other sites' entries redacted: their hashes pin them.
  const chain = verifyAuditChain(readText(auditPath, 'audit log'), { allowRedacted: true, ...(expectedHead === undefined ? {} : { expectedHead }) });
  if (!chain.ok) return { ok: false, message: `FAILED: ${clipText(auditPath)}: ${chain.message}`, siteLogs: [] };
  const start = chain.good.find((e) => e.type === 'run-start');
  const runId = start && 'data' in start ? start.data.runId : undefined;
  const siteLogs: AuditVerifyResult['siteLogs'] = [];
  for (const path of siteLogPaths) {
    const parsed = parseSiteLog(readText(path, 'site log'));
    const verdict = parsed.ok ? compareSiteLog(chain.good, parsed.entries) : { ok: false as const, message: parsed.message };
    siteLogs.push(verdict.ok ? { path, ok: true, siteId: verdict.siteId, updates: verdict.updates } : { path, ok: false, message: verdict.message });
  }
  const bad = siteLogs.find((s) => !s.ok);
  const base = { count: chain.count, redacted: chain.redacted, head: chain.head, ...(typeof runId === 'string' ? { runId } : {}), siteLogs };
  if (bad) return { ok: false, message: `FAILED: ${clipText(bad.path)}: ${bad.message}`, ...base };
  const updates = siteLogs.reduce((n, s) => n + (s.updates ?? 0), 0);
  const sites = siteLogs.length === 0 ? '' : `; ${siteLogs.length} site log${siteLogs.length === 1 ? '' : 's'} match (${updates} update${updates === 1 ? '' : 's'})`;
  const redacted = chain.redacted === 0 ? '' : ` (${chain.redacted} redacted: other sites' data withheld)`;
  return { ok: true, message: `OK: ${chain.count} entries${redacted}, head ${chain.head}${typeof runId === 'string' ? `, run ${clipText(runId, 128)}` : ''}${sites}`, ...base };
}

const collect = (value: string, previous: string[]) => [...previous, value];

function headOption(value: string): string {
  if (!/^[0-9a-f]{64}$/.test(value)) throw new InvalidArgumentError('--head must be 64 lowercase hex digits (a head printed by `fedtune audit verify` or the run report\'s audit.head)');
  return value;
}

/** `fedtune audit verify`: checks a run's hash-chained audit log, and sites' own logs against it (docs/audit.md). */
export function auditCommand(): Command {
  const audit = new Command('audit').description("check a run's audit log (runs/<run>/audit.jsonl, or GET /api/v1/runs/<run>/audit)");
  audit
    .command('verify')
    .description('verify the hash chain of an audit log (any edit, deletion, insertion or reordering is named) and that each site log matches it; exit code 1 if not')
    .argument('<audit-log>', 'the audit log (audit.jsonl)')
    .option('--site-log <file>', "a site's own log (`fedtune client --audit-log FILE`): every update it sent must be in the audit log with the same hash, and no other update from it (repeatable)", collect, [])
    .option('--head <hash>', 'a head known from elsewhere (printed by an earlier verify, or report.json audit.head): the log must hold it, which catches deleted last entries', headOption)
    .option('--json', 'print one JSON object')
    .action((auditPath: string, o: { siteLog: string[]; head?: string; json?: boolean }) => {
      refuseMissingInputPaths([{ option: '<audit-log>', path: auditPath, kind: 'file' }, ...o.siteLog.map((path) => ({ option: '--site-log', path, kind: 'file' as const }))]);
      const result = verifyAuditFiles(auditPath, o.siteLog, o.head);
      console.log(o.json ? JSON.stringify(result) : result.message);
      if (!result.ok) process.exitCode = 1;
    });
  return audit;
}
