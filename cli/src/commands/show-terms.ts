import { urlUnderServer, checkRunTerms, clipText, oneLine, FedtuneError, readBodyAtMost, SignedRunTerms, type SitePolicy, type TermsVerdict } from '@fedtune/shared';

/** The most bytes of a coordinator's terms `--show-terms` reads. */
export const MAX_TERMS_BYTES = 1024 * 1024;
import { nodeEd25519Verify } from '@fedtune/shared/node';
import { getWithCa } from './get-with-ca.ts';

/**
 * GET /api/v1/terms of a coordinator (with the site's name and token when site tokens are on), an https://
 * one verified against `ca` (`--ca`) as the site's connection is.
 */
export async function fetchRunTerms(server: string, site?: { siteId?: string; token?: string }, ca?: string): Promise<SignedRunTerms> {
  const url = new URL(urlUnderServer(server.includes('://') ? server : `http://${server}`, '/api/v1/terms'));
  const headers: Record<string, string> = {};
  if (site?.siteId) headers['x-fedtune-site'] = site.siteId;
  if (site?.token) headers.authorization = `Bearer ${site.token}`;
  let response: Response;
  try {
    response = await getWithCa(url, { headers, timeoutMs: 15_000, ...(ca !== undefined ? { ca } : {}) });
  } catch (err) {
    const hint = isCertificateError(err) ? (ca === undefined ? ' (a coordinator with a private CA: give its certificate with --ca)' : ' (is --ca the CA that signed the coordinator\'s certificate?)') : '';
    throw new FedtuneError('transport', clipText(`cannot reach the coordinator at ${url.origin}: ${(err as Error).message}${hint}`), { cause: err });
  }
  // Terms are a few kilobytes: a body past 1 MB is not terms (and is not read whole).
  let body: { error?: { message?: string } } | undefined;
  try {
    body = JSON.parse(new TextDecoder().decode(await readBodyAtMost(response, MAX_TERMS_BYTES, 'the coordinator\'s terms', 'malformed_payload'))) as typeof body;
  } catch (err) {
    if (err instanceof FedtuneError) throw err;
    body = undefined;
  }
  if (!response.ok) throw new FedtuneError(response.status === 401 ? 'unauthorized' : response.status === 404 ? 'not_found' : 'transport', clipText(`GET ${url.pathname}: ${response.status} ${body?.error?.message ?? ''}`));
  const parsed = SignedRunTerms.safeParse(body);
  if (!parsed.success) throw new FedtuneError('malformed_payload', clipText(`the coordinator's terms are not valid run terms: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`));
  return parsed.data;
}

/** A TLS certificate that did not verify (node's error codes: self-signed, unknown issuer, wrong host name, expired). */
function isCertificateError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (/CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code));
}

/** What the per-site report after the last round will ask, as the terms state it. */
function describeSiteReport(report: NonNullable<SignedRunTerms['terms']['siteReport']>): string {
  const parts: string[] = [];
  const p = report.personalization;
  if (p) parts.push(`personalisation ${p.mode}, ${p.epochs} epoch(s)${p.mode === 'ditto' ? `, λ ${p.lambda}` : ''}`);
  if (report.localOnlyEpochs !== undefined) parts.push(`local-only baseline ${report.localOnlyEpochs} epoch(s)`);
  const r = report.robustness;
  if (r) {
    const attacks = r.adversarialExamples > 0 && r.pgdEps.length > 0 ? `${r.adversarialExamples} attacked by PGD-${r.pgdSteps} at ε ${r.pgdEps.join(', ')}` : 'none attacked';
    parts.push(`robustness on ${r.examples} test examples (${attacks}${r.noiseSigmas.length > 0 ? `; noise σ ${r.noiseSigmas.join(', ')}` : ''}${r.corruptions ? '; corruptions' : ''})`);
  }
  return parts.join('; ') || 'nothing beyond the final model';
}

/** The terms as a person reads them, and the policy's verdict when a policy is given. */
export function describeRunTerms(signed: SignedRunTerms, verdict?: TermsVerdict): string[] {
  const t = signed.terms;
  const train = t.train;
  const lines = [
    `run ${oneLine(t.runId)}`,
    `  coordinator   ${oneLine(t.coordinator)}`,
    `  terms hash    ${oneLine(signed.hash)}`,
    `  model         ${t.model.architecture}, ${t.model.parameters} parameters, topology ${t.model.topologyHash}`,
    `  rounds        ${t.rounds} (at least ${t.minSites} sites, ${Math.round(t.fraction * 100)}% sampled per round)`,
    `  training      ${train.epochs} epoch(s) per round, batch ${train.batchSize}, ${train.optimizer} lr ${train.learningRate}, examples per round ${train.maxExamples ?? 'all'} (at most ${t.maxExamplesPerSite} counted)`,
    `  record DP     ${train.dpSgd ? `DP-SGD clip ${train.dpSgd.clip}, noise ${train.dpSgd.noiseMultiplier}, δ ${train.dpSgd.delta ?? 1e-5}` : 'none'}`,
    `  client DP     ${t.dp ? `noise ${t.dp.noiseMultiplier}, clip ${t.dp.clip}, δ ${t.dp.delta}, added ${t.dp.noise === 'distributed' ? 'by the sites (distributed)' : 'by the coordinator (central)'}` : 'none'}`,
    `  secure aggregation  ${t.secureAggregation ? `on (clip ${t.secureAggregation.clip})` : 'off'}`,
    `  reports       federated evaluation ${t.federatedEvaluation}${t.federatedCalibration ? ', federated calibration' : ''}${t.siteReport ? ', per-site report after the last round' : ''}`,
  ];
  if (t.siteReport) lines.push(`  site report   ${describeSiteReport(t.siteReport)}`);
  if (verdict) lines.push(verdict.ok ? `policy: ACCEPT${verdict.maxExamples !== undefined ? ` (this site trains on at most ${verdict.maxExamples} examples per round)` : ''}` : `policy: REFUSE — ${oneLine(verdict.reason)}`);
  // Every field is the coordinator's: no line may carry a control character (an ANSI/OSC escape, CR, LF) or run unbounded.
  return lines.map((line) => oneLine(line, 2000));
}

/** `fedtune client --show-terms`: prints the terms (and the policy's verdict) and exits without joining. */
export async function showTerms(options: { server: string; siteId?: string; token?: string; ca?: string; policy?: SitePolicy; json?: boolean }): Promise<TermsVerdict | undefined> {
  const signed = await fetchRunTerms(options.server, { siteId: options.siteId, token: options.token }, options.ca);
  const verdict = options.policy ? checkRunTerms(signed, options.policy, [], nodeEd25519Verify) : undefined;
  if (options.json) console.log(JSON.stringify({ ...signed, ...(verdict ? { verdict } : {}) }, null, 2));
  else for (const line of describeRunTerms(signed, verdict)) console.log(line);
  return verdict;
}
