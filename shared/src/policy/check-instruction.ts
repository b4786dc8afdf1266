import type { RunTerms } from '../messages/run-terms.ts';
import type { EvaluateInstruction, FitInstruction, ModelTopology, TrainConfig } from '../messages/schemas.ts';
import type { SiteReportInstruction, SiteReportTerms } from '../messages/site-report-schemas.ts';
import { clipText } from '../text/clip-text.ts';
import { canonicalHash } from './run-terms-hash.ts';
import { vocabularyHashOf } from '../messages/model-text-section.ts';
import { canonicalJson } from '../audit/canonical-json.ts';
import { nobleSha256OfChunks, sha256Hex, type Sha256OfChunks } from '../audit/sha256-hex.ts';
import type { SitePolicy } from './site-policy.ts';
import { scheduledTrain } from '../learning/learning-rate-schedule.ts';
import { totalParameters } from '../weights.ts';
import { checkDistributedNoiseTerms } from './check-distributed-noise-terms.ts';
import { siteReportMetricRefusals, trainMetricRefusal } from './metric-example-counts.ts';

/**
 * Every instruction a site receives, checked again on arrival against the terms it accepted and its policy
 * (docs/site-policy.md#every-instruction). Pure: each returns why the instruction departs from the terms
 * (one line), or undefined. A coordinator that departs from its terms is refused and not trusted again.
 */

function sameRun(runId: string, terms: RunTerms): string | undefined {
  return runId === terms.runId ? undefined : `the instruction is for another run than the accepted terms' ${terms.runId}`;
}

/**
 * 'model': the topology must be the one the terms name (its hash), its manifest must hold the parameters the terms
 * name (the count the site's policy judged, maxParameters; checked before the model is built, so a coordinator
 * cannot get a larger model allocated than it announced), and a text model's vocabulary must be the terms' too.
 */
export function checkModelInstruction(model: ModelTopology, terms: RunTerms): string | undefined {
  const run = sameRun(model.runId, terms);
  if (run) return run;
  const hash = canonicalHash(model.topology);
  if (hash !== terms.model.topologyHash) return `the model topology (${hash.slice(0, 16)}…) is not the one of the terms (${terms.model.topologyHash.slice(0, 16)}…)`;
  const parameters = totalParameters(model.manifest);
  if (parameters !== terms.model.parameters) return `the model's manifest holds ${parameters} parameters, the terms ${terms.model.parameters}`;
  return checkModelVocabulary(model, terms);
}

/** A text model's vocabulary (the 'model' message's text section) must hash to the terms' vocabularyHash; no text section without one, and none missing. */
export function checkModelVocabulary(model: Pick<ModelTopology, 'text'>, terms: RunTerms): string | undefined {
  const want = terms.model.vocabularyHash;
  if (!model.text) return want === undefined ? undefined : `the model comes without the vocabulary of the terms (${want.slice(0, 16)}…)`;
  const got = vocabularyHashOf(model.text);
  if (want === undefined) return `the model comes with a vocabulary (${got.slice(0, 16)}…) the terms do not name`;
  return got === want ? undefined : `the model's vocabulary (${got.slice(0, 16)}…) is not the one of the terms (${want.slice(0, 16)}…)`;
}

/** Weights of the initial model (version 0), and the pretrained model of a site report: the terms' initial weights hash. */
export function checkInitialWeights(modelVersion: number, weights: Uint8Array | undefined, terms: RunTerms, modelRef?: { sha256: string }, sha256: Sha256OfChunks = nobleSha256OfChunks): string | undefined {
  // Weights over HTTP (model-ref.ts): the reference's hash must be the terms' (the fetched bytes are checked against it).
  if (modelVersion === 0 && modelRef && modelRef.sha256 !== terms.model.initialWeightsHash) {
    return `the initial weights referenced (${modelRef.sha256.slice(0, 16)}…) are not the ones of the terms (${terms.model.initialWeightsHash.slice(0, 16)}…)`;
  }
  if (modelVersion !== 0 || !weights) return undefined;
  const hash = sha256([weights]);
  return hash === terms.model.initialWeightsHash ? undefined : `the initial weights (${hash.slice(0, 16)}…) are not the ones of the terms (${terms.model.initialWeightsHash.slice(0, 16)}…)`;
}

function roundWithin(round: number, terms: RunTerms, what: string): string | undefined {
  return round >= 1 && round <= terms.rounds ? undefined : `${what} for round ${round}, outside the terms' rounds 1..${terms.rounds}`;
}

type TermsTrain = RunTerms['train'];

/** The training settings with what may vary per round blanked: the seed, and the adversarial ε (warm-up) and its step size. */
function comparable(train: TermsTrain | TrainConfig): Record<string, unknown> {
  const { seed: _seed, ...rest } = train as TrainConfig;
  if (rest.adversarial) rest.adversarial = { ...rest.adversarial, eps: 0, ...(rest.adversarial.stepSize !== undefined ? { stepSize: 0 } : {}) };
  return rest as Record<string, unknown>;
}

/**
 * A round's training settings against the terms': equal, except the per-round seed and the adversarial ε
 * warm-up (ε and the step size may be lower than the terms', never higher). Under a learning-rate schedule
 * the terms' training is the round's (scheduledTrain: exactly the rate the schedule gives round `round`, no
 * schedule field). Names the first field that differs.
 */
export function checkTrainConfig(config: TrainConfig, terms: RunTerms, round: number): string | undefined {
  const got = comparable(config);
  const want = comparable(scheduledTrain(terms.train, round, terms.rounds));
  for (const key of [...new Set([...Object.keys(want), ...Object.keys(got)])].sort()) {
    const a = want[key] === undefined ? '(absent)' : canonicalJson(want[key]);
    const b = got[key] === undefined ? '(absent)' : canonicalJson(got[key]);
    if (a !== b) return `the instruction changes the terms' training: ${key} ${short(a)} → ${short(b)}`;
  }
  const adv = config.adversarial;
  const agreed = terms.train.adversarial;
  // Stryker disable next-line LogicalOperator: equivalent: adversarial training on one side only was refused above (comparable), so both or neither are here.
  if (adv && agreed) {
    // The step sizes are both given or both absent here: `comparable` refused one given on one side only.
    if (adv.eps > agreed.eps) return `the instruction's adversarial ε ${adv.eps} exceeds the terms' ${agreed.eps}`;
    // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: both step sizes are given or both absent (above), and a comparison with an absent one is false.
    if (adv.stepSize !== undefined && agreed.stepSize !== undefined && adv.stepSize > agreed.stepSize) return `the instruction's adversarial step size ${adv.stepSize} exceeds the terms' ${agreed.stepSize}`;
  }
  return undefined;
}

function short(json: string): string {
  return json.length <= 60 ? json : `${json.slice(0, 60)}…`;
}

/** 'fit': the round within the terms, the training as agreed, secure aggregation exactly as the terms say, enough sites in the aggregate. */
export function checkFitInstruction(fit: FitInstruction, terms: RunTerms, policy: SitePolicy, sha256: Sha256OfChunks = nobleSha256OfChunks): string | undefined {
  const early = sameRun(fit.runId, terms) ?? roundWithin(fit.round, terms, 'a fit') ?? checkInitialWeights(fit.modelVersion, fit.weights, terms, fit.modelRef, sha256) ?? checkTrainConfig(fit.config, terms, fit.round);
  if (early) return early;
  // Again here, whatever the terms said: no round's training metrics over fewer examples than the policy's bound.
  const few = trainMetricRefusal(fit.config, policy.privacy.minExamplesPerMetric);
  if (few) return few;
  const secure = fit.secureAggregation;
  const agreed = terms.secureAggregation;
  if (agreed && !secure) return 'the terms say secure aggregation and the fit asks for a plain update';
  if (!agreed && secure) return 'the terms say no secure aggregation and the fit asks for it';
  // Stryker disable next-line LogicalOperator: equivalent: the two lines above returned unless both or neither are present.
  if (secure && agreed) {
    if (secure.clip !== agreed.clip) return `the fit's secure-aggregation clip ${secure.clip} is not the terms' ${agreed.clip}`;
    if (agreed.neighbours !== secure.neighbours) return `the fit's secure-aggregation neighbours ${secure.neighbours ?? '(all)'} are not the terms' ${agreed.neighbours ?? '(all)'}`;
    // Stryker disable next-line ConditionalExpression: equivalent: a number compared with an absent threshold is false either way.
    if (agreed.threshold !== undefined && secure.threshold < agreed.threshold) return `the fit's secure-aggregation threshold ${secure.threshold} is below the terms' ${agreed.threshold}`;
    if (secure.sites.length < policy.aggregation.minSites) return `the aggregate would hold ${secure.sites.length} sites, fewer than the policy's minSites ${policy.aggregation.minSites}`;
    // DP-FedAvg on a secure sum weighs sites equally (example counts would unbound the sensitivity).
    if (terms.dp && secure.weighting !== 'uniform') return 'the terms say client-level DP and the fit weighs sites by their example counts';
    // The site adds exactly the distributed noise the terms say (its ledger books ε for that), and none otherwise.
    return checkDistributedNoiseTerms(secure, terms);
  }
  return undefined;
}

/** 'evaluate': only as the terms' federatedEvaluation says (or a federated temperature fit when the terms say so). */
export function checkEvaluateInstruction(evaluate: EvaluateInstruction, terms: RunTerms, sha256: Sha256OfChunks = nobleSha256OfChunks): string | undefined {
  const early = sameRun(evaluate.runId, terms) ?? roundWithin(evaluate.round, terms, 'an evaluation') ?? checkInitialWeights(evaluate.modelVersion, evaluate.weights, terms, evaluate.modelRef, sha256);
  if (early) return early;
  if (evaluate.calibration) return terms.federatedCalibration ? undefined : 'the terms include no federated calibration';
  return checkFederatedEvaluation(evaluate.round, terms);
}

/**
 * Whether the terms include a federated evaluation (test-split metrics) of round `round`: why not, or undefined.
 * A calibration question is within the terms in any round, but its answer carries test-split metrics only when this allows them.
 */
export function checkFederatedEvaluation(round: number, terms: RunTerms): string | undefined {
  if (terms.federatedEvaluation === 'never') return 'the terms include no federated evaluation';
  if (terms.federatedEvaluation === 'final' && round !== terms.rounds) return `the terms include a federated evaluation of the final round (${terms.rounds}) only, not of round ${round}`;
  return undefined;
}

/** What a 'siteReport' instruction asks, as the terms state it: the robustness seed is the run's to choose, not agreed. */
function siteReportSettingsOf(report: SiteReportInstruction): SiteReportTerms {
  let robustness: SiteReportTerms['robustness'];
  if (report.robustness) {
    const { seed: _seed, ...agreed } = report.robustness;
    robustness = agreed;
  }
  return { personalization: report.personalization, localOnlyEpochs: report.localOnlyEpochs, robustness };
}

/**
 * 'siteReport': only when the terms include a per-site report, after the last round, with the terms' training
 * and pretrained model, and exactly the personalisation, local-only baseline and robustness settings the terms
 * state (a coordinator cannot ask for 100,000 local-only epochs, or robustness on one example, that the site
 * never saw).
 */
export function checkSiteReportInstruction(report: SiteReportInstruction, terms: RunTerms, policy: SitePolicy): string | undefined {
  const early = sameRun(report.runId, terms) ?? roundWithin(report.round, terms, 'a site report');
  if (early) return early;
  if (!terms.siteReport) return 'the terms include no per-site report';
  const asked = siteReportSettingsOf(report);
  for (const key of ['personalization', 'localOnlyEpochs', 'robustness'] as const) {
    const got = asked[key] === undefined ? '(absent)' : canonicalJson(asked[key]);
    const agreed = terms.siteReport[key] === undefined ? '(absent)' : canonicalJson(terms.siteReport[key]);
    if (got !== agreed) return `changed terms: the site report's ${key} ${clipText(agreed, 300)} → ${clipText(got, 300)}`;
  }
  // Again here, whatever the terms said: no robustness figure over fewer examples than the policy's bound.
  const few = siteReportMetricRefusals(asked, policy.privacy.minExamplesPerMetric);
  if (few.length > 0) return few.join('; ');
  if (report.pretrained) {
    const hash = sha256Hex(report.pretrained);
    if (hash !== terms.model.initialWeightsHash) return `the site report's pretrained weights (${hash.slice(0, 16)}…) are not the terms' initial weights`;
  }
  // FedBN marks fits only (localBatchNorm); the report reuses the training otherwise as agreed.
  return checkTrainConfig({ ...report.train, localBatchNorm: terms.train.localBatchNorm }, terms, report.round);
}
