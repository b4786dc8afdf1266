import { FedtuneError, searchTemperature, type EvaluateResult, type TemperatureStats } from '@fedtune/shared';

export type CalibrationAnswer = NonNullable<EvaluateResult['calibration']>;

/**
 * Asks the sites for their calibration sums at `betas` — every joined site for the first question, then only
 * the fit's `participants` — and resolves with the answers that arrived in time, by site.
 */
export type CalibrationQuery = (betas: readonly number[], participants?: readonly string[]) => Promise<ReadonlyMap<string, CalibrationAnswer>>;

/**
 * Federated temperature scaling: the exact search of `searchTemperature`, with each question answered by
 * the sum of the sites' sums over their validation splits (no logits or labels leave a site). The sites
 * that answer the first question with examples are the fit's participants; every later question must be
 * answered by all of them over the same number of examples (the sum of a different set is a different objective), else
 * FedtuneError('quorum_not_met'). An answer for other inverse temperatures than asked (a late answer to an
 * earlier question) counts as no answer. No participant with validation examples: FedtuneError('data').
 */
export async function fitFederatedTemperature(query: CalibrationQuery): Promise<{ temperature: number; fittedOn: number; sites: string[] }> {
  let participants: string[] | undefined;
  const counts = new Map<string, number>();
  let fittedOn = 0;
  const temperature = await searchTemperature(async (betas) => {
    const answers = await query(betas, participants);
    const matching = [...answers].filter(([, a]) => a.betas.length === betas.length && a.betas.every((b, i) => b === betas[i]));
    if (!participants) {
      // Stryker disable next-line EqualityOperator: equivalent: the ids are a Map's keys, distinct, so < and ≤ order them alike.
      const withExamples = matching.filter(([, a]) => a.count > 0).sort(([x], [y]) => (x < y ? -1 : 1));
      if (withExamples.length === 0) throw new FedtuneError('data', 'no site sent calibration sums over a non-empty validation split');
      participants = withExamples.map(([id]) => id);
      for (const [id, a] of withExamples) counts.set(id, a.count);
      fittedOn = withExamples.reduce((n, [, a]) => n + a.count, 0);
    }
    const bySite = new Map(matching);
    // A participant whose validation split changed size between questions answers for another objective: no answer.
    const missing = participants.filter((id) => bySite.get(id)?.count !== counts.get(id));
    if (missing.length > 0) throw new FedtuneError('quorum_not_met', `federated calibration: ${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ` and ${missing.length - 3} more` : ''} did not answer`);
    // Sums in site-id order, so arrival order never changes the fit.
    return betas.map((_, b): TemperatureStats => {
      let nll = 0;
      let grad = 0;
      let hess = 0;
      for (const id of participants!) {
        const s = bySite.get(id)!.stats[b];
        // Stryker disable next-line AssignmentOperator: equivalent: the search checks the NLL sum only for finiteness; the fit follows the gradient and curvature.
        nll += s.nll;
        grad += s.grad;
        hess += s.hess;
      }
      return { nll, grad, hess };
    });
  });
  // Stryker disable next-line ArrayDeclaration: equivalent: unreachable, the first question either sets the participants or throws.
  return { temperature, fittedOn, sites: participants ?? [] };
}
