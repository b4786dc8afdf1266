import { hexToBytes } from '@noble/hashes/utils.js';
import type { RunTerms, SignedRunTerms } from '../messages/run-terms.ts';
import { clipText, quoteClipped } from '../text/clip-text.ts';
import { DEFAULT_DP_SGD_DELTA } from '../privacy/dp-sgd-accounting.ts';
import { runTermsHash } from './run-terms-hash.ts';
import { nobleEd25519Verify, type Ed25519Verify } from './ed25519-verify.ts';
import type { SitePolicy } from './site-policy.ts';
import { metricCountRefusals } from './metric-example-counts.ts';


/**
 * A further check on terms a site may add (the privacy ledger's ε budget, model inspection): returns why the
 * terms are refused, or undefined. Run after the policy's own checks.
 */
export type TermsCheck = (terms: RunTerms) => string | undefined;

export type TermsVerdict =
  | {
      ok: true;
      hash: string;
      /** Most examples this site trains on per round: the policy's maxExamplesPerRound when the terms allow more. */
      maxExamples?: number;
    }
  | { ok: false; reasons: string[]; reason: string };

/**
 * Signatures found valid lately (hash, signature, key): a process hosting thousands of virtual sites of one run
 * (fedtune worker, simulate) verifies the run's terms once, not once per site. Only valid ones are kept, at most
 * VERIFIED_LIMIT: the same three strings always verify alike, so this changes no verdict.
 */
const verified = new Set<string>();
const VERIFIED_LIMIT = 16;

/**
 * Whether `signature` (hex) is `publicKey`'s (hex) Ed25519 signature of the 32 bytes of `hash` (hex). Never throws.
 * `verify`: @noble/curves by default (browsers); Node sites pass Node's crypto (nodeEd25519Verify), same results.
 */
export function verifyTermsSignature(hash: string, signature: string, publicKey: string, verify: Ed25519Verify = nobleEd25519Verify): boolean {
  const key = `${hash}:${signature}:${publicKey}`;
  if (verified.has(key)) return true;
  try {
    const ok = verify(hexToBytes(signature), hexToBytes(hash), hexToBytes(publicKey));
    if (ok) {
      if (verified.size >= VERIFIED_LIMIT) verified.delete(verified.values().next().value!);
      verified.add(key);
    }
    return ok;
  } catch {
    return false;
  }
}

/**
 * Checks a run's signed terms against a site's policy (docs/site-policy.md). Pure. The terms must be
 * authentic (their hash matches their content and is signed by `terms.coordinator`, a key the policy allows)
 * and within every limit of the policy. All the reasons for a refusal are listed, each one line.
 *
 * ε budgets (policy.privacy.maxEpsilonPerRun / maxEpsilonTotal) are the privacy ledger's: pass its check in
 * `extra` (TermsCheck).
 */
export function checkRunTerms(signed: SignedRunTerms, policy: SitePolicy, extra: readonly TermsCheck[] = [], verify: Ed25519Verify = nobleEd25519Verify): TermsVerdict {
  const { terms } = signed;
  const hash = runTermsHash(terms);
  if (hash !== signed.hash) return refused(['the terms do not match their hash (altered in transit or by the coordinator)']);
  if (!verifyTermsSignature(signed.hash, signed.signature, terms.coordinator, verify)) return refused([`the terms' signature is not coordinator ${terms.coordinator.slice(0, 16)}…'s`]);
  const reasons: string[] = [];
  const refuse = (reason: string) => void reasons.push(reason);

  if (policy.coordinators && !policy.coordinators.includes(terms.coordinator)) refuse(`coordinator ${terms.coordinator.slice(0, 16)}… is not one of the policy's coordinators`);

  const model = policy.model;
  if (model.architectures && !model.architectures.includes(terms.model.architecture)) refuse(`model architecture ${quoteClipped(terms.model.architecture, 64)} is not allowed (policy: ${model.architectures.join(', ')})`);
  if (model.hashes && !model.hashes.includes(terms.model.topologyHash)) refuse(`model topology ${terms.model.topologyHash.slice(0, 16)}… is not one of the policy's pinned hashes`);
  if (terms.model.parameters > model.maxParameters) refuse(`the model has ${terms.model.parameters} parameters, more than the policy's maxParameters ${model.maxParameters}`);

  const training = policy.training;
  if (terms.rounds > (training.maxRounds ?? Infinity)) refuse(`the run asks for ${terms.rounds} rounds, more than the policy's maxRounds ${training.maxRounds}`);
  if (terms.train.epochs > (training.maxEpochs ?? Infinity)) refuse(`the run asks for ${terms.train.epochs} epochs per round, more than the policy's maxEpochs ${training.maxEpochs}`);
  // The per-site report trains on the site's data too (the local-only baseline, the personalisation): each at most
  // the epochs the policy allows the whole run (maxEpochs × rounds; the honest baseline is rounds × the run's epochs).
  const report = terms.siteReport;
  if (report) {
    // No maxEpochs: no bound (Infinity), and no refusal to word.
    const most = (training.maxEpochs ?? Infinity) * terms.rounds;
    const allowed = `the policy's maxEpochs ${training.maxEpochs} × ${terms.rounds} rounds = ${most}`;
    if ((report.localOnlyEpochs ?? 0) > most) refuse(`the run's site report asks for ${report.localOnlyEpochs} local-only epochs, more than ${allowed}`);
    if (report.personalization && report.personalization.epochs > most) refuse(`the run's site report asks for ${report.personalization.epochs} personalisation epochs, more than ${allowed}`);
  }

  const aggregation = policy.aggregation;
  if (aggregation.requireSecureAggregation && !terms.secureAggregation) refuse('the policy requires secure aggregation and the run does not use it');
  if (terms.minSites < aggregation.minSites) refuse(`the run aggregates as few as ${terms.minSites} sites, fewer than the policy's minSites ${aggregation.minSites}`);

  const privacy = policy.privacy;
  const record = terms.train.dpSgd;
  const client = terms.dp;
  if (privacy.require === 'record' && !record) refuse('the policy requires record-level DP (DP-SGD at the site) and the run does not use it');
  if (privacy.require === 'client' && !client) refuse('the policy requires client-level DP (DP-FedAvg) and the run does not use it');
  if (privacy.require === 'any' && !record && !client) refuse('the policy requires differential privacy and the run uses none');
  if (privacy.minNoiseMultiplier !== undefined) {
    if (!client) refuse(`the policy requires client-level DP with a noise multiplier of at least ${privacy.minNoiseMultiplier} and the run uses no client-level DP`);
    else if (client.noiseMultiplier < privacy.minNoiseMultiplier) refuse(`the run's noise multiplier ${client.noiseMultiplier} is below the policy's minNoiseMultiplier ${privacy.minNoiseMultiplier}`);
  }
  if (privacy.requireDistributedNoise && !(client?.noise === 'distributed' && terms.secureAggregation)) {
    refuse('the policy requires distributed noise (each site adds its share under secure aggregation) and the run does not use it');
  }
  // No maxDelta: no bound (Infinity), and no refusal to word.
  const maxDelta = privacy.maxDelta ?? Infinity;
  if (client && client.delta > maxDelta) refuse(`the run's client-level δ ${client.delta} is above the policy's maxDelta ${maxDelta}`);
  const recordDelta = record ? (record.delta ?? DEFAULT_DP_SGD_DELTA) : 0;
  if (recordDelta > maxDelta) refuse(`the run's DP-SGD δ ${recordDelta} is above the policy's maxDelta ${maxDelta}`);
  // The per-site report's local-only baseline and personalised model train on this site's records without DP-SGD
  // (site-report-work.ts), and their metrics, candidate scores and example-by-example comparisons leave the site:
  // none of it is inside the DP guarantee or the ε budget this policy holds the run to.
  const privateSite = privacy.require !== 'none' || privacy.maxEpsilonPerRun !== undefined || privacy.maxEpsilonTotal !== undefined;
  const trains = [report?.localOnlyEpochs ? 'a local-only baseline' : undefined, report?.personalization && report.personalization.mode !== 'none' ? `a personalised model (${report.personalization.mode})` : undefined].filter((s) => s !== undefined);
  if (privateSite && trains.length > 0) {
    refuse(`the run's site report trains ${trains.join(' and ')} on this site's records without differential privacy and sends their metrics: outside the DP guarantee and ε budget the policy requires`);
  }
  // A metric over a handful of examples is a sample in disguise: no count the coordinator sets may go below the bound.
  for (const reason of metricCountRefusals(terms, privacy.minExamplesPerMetric)) refuse(reason);

  // The privacy ledger's ε budget and model inspection hook in here.
  for (const check of extra) {
    const reason = check(terms);
    if (reason !== undefined) refuse(clipText(reason, 500));
  }
  if (reasons.length > 0) return refused(reasons);

  // Examples per round: not a refusal — the site trains on at most the policy's number (docs/site-policy.md).
  const cap = training.maxExamplesPerRound;
  const asked = terms.train.maxExamples;
  return { ok: true, hash, ...(cap !== undefined && (asked === undefined || asked > cap) ? { maxExamples: cap } : {}) };
}

function refused(reasons: string[]): TermsVerdict {
  return { ok: false, reasons, reason: clipText(reasons.join('; '), 1900) };
}
