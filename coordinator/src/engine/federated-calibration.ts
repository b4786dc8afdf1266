import { FedtuneError, searchTemperature, type EvaluateResult, type TemperatureStats } from '@fedtune/shared';
import { lowerMedian } from './update-guard.ts';

export type CalibrationAnswer = NonNullable<EvaluateResult['calibration']>;

/**
 * Asks the sites for their calibration sums at `betas` — every joined site for the first question, then only
 * the fit's `participants` — and resolves with the answers that arrived in time, by site.
 */
export type CalibrationQuery = (betas: readonly number[], participants?: readonly string[]) => Promise<ReadonlyMap<string, CalibrationAnswer>>;

/**
 * What one participant's sums may weigh in a federated fit, decided on the first (grid) answers of all the
 * participants, so the same for every later question: its count at most the training examples it announced at
 * hello and `cap` × the lower median of the counts (its sums scaled down by the same factor), and per example of
 * that count a gradient of magnitude at most `cap` × the lower median of the largest per-example |gradient| over
 * the grid, and a curvature at most `cap`² × the lower median of the largest per-example curvature (an honest
 * site's are at most its logits' spread and its square / 4: what a site whose logits are `cap` times the typical
 * ones could send). The coordinator's own sums on its holdout (`reference`), when given, are one more member of
 * each median and never summed: no participant's answer alone sets the bounds of the others (with two
 * participants and no reference, the smaller answer would). The NLL sum is scaled with the count only: the
 * search reads it for finiteness, never to move the fit.
 */
export interface CalibrationBound {
  /** Count after the cap. */
  count: number;
  /** Largest |gradient| and curvature per counted example. */
  grad: number;
  hess: number;
}

/** What calibrationBounds knows besides the answers: each participant's announced training examples, and the coordinator's holdout sums at the same inverse temperatures. */
export interface CalibrationBoundInputs {
  announced?: ReadonlyMap<string, number>;
  reference?: CalibrationAnswer;
}

/** The bounds of `calibrationBounds` for each participant (site-id order), from their grid answers; `cap` 0: none (the announced counts still hold). */
export function calibrationBounds(grid: ReadonlyArray<readonly [string, CalibrationAnswer]>, cap: number, { announced, reference }: CalibrationBoundInputs = {}): Map<string, CalibrationBound> {
  // Each answer with its count held to what its site announced: a claim past that moves no median either (and its
  // sums count per held example, so a huge claim cannot make its per-example values look small).
  const held = grid.map(([id, a]) => ({ id, a, count: Math.min(a.count, announced?.get(id) ?? Infinity) }));
  type Member = { a: CalibrationAnswer; count: number };
  const all: Member[] = [...held];
  if (reference) all.push({ a: reference, count: reference.count });
  // A participant held to no examples (it announced none) weighs nothing and sets no median.
  const members = all.filter((m) => m.count > 0);
  const largest = (m: Member, f: (s: CalibrationAnswer['stats'][number]) => number) => Math.max(0, ...m.a.stats.map(f)) / m.count;
  const median = (f: (m: Member) => number) => lowerMedian(members.map(f)) ?? 0;
  const count = cap * median((m) => m.count);
  const grad = cap * median((m) => largest(m, (s) => Math.abs(s.grad)));
  const hess = cap * cap * median((m) => largest(m, (s) => s.hess));
  return new Map(held.map((m) => [m.id, cap === 0 ? { count: m.count, grad: Infinity, hess: Infinity } : { count: Math.min(m.count, count), grad, hess }]));
}

/** One participant's sums at one inverse temperature within its bound (see calibrationBounds). */
export function boundedStats(s: TemperatureStats, count: number, bound: CalibrationBound): TemperatureStats {
  const f = bound.count / count;
  const g = bound.count * bound.grad;
  return { nll: s.nll * f, grad: Math.min(g, Math.max(-g, s.grad * f)), hess: Math.min(bound.count * bound.hess, s.hess * f) };
}

/**
 * Federated temperature scaling: the exact search of `searchTemperature`, with each question answered by
 * the sum of the sites' sums over their validation splits (no logits or labels leave a site). The sites
 * that answer the first question with examples are the fit's participants; every later question must be
 * answered by all of them over the same number of examples (the sum of a different set is a different objective), else
 * FedtuneError('quorum_not_met'). An answer for other inverse temperatures than asked (a late answer to an
 * earlier question) counts as no answer. No participant with validation examples: FedtuneError('data').
 * With `cap` > 0 (the run's exampleWeightCap) each participant's sums are held to `calibrationBounds`, so one site
 * cannot pull the temperature further than an honest site of its (capped) count could; `bounded` lists the
 * participants whose sums were scaled or clipped.
 */
export async function fitFederatedTemperature(query: CalibrationQuery, cap = 0, inputs: { announced?: ReadonlyMap<string, number>; reference?: (betas: readonly number[]) => Promise<CalibrationAnswer | undefined> } = {}): Promise<{ temperature: number; fittedOn: number; sites: string[]; bounded: string[] }> {
  let participants: string[] | undefined;
  const counts = new Map<string, number>();
  let bounds = new Map<string, CalibrationBound>();
  const bounded = new Set<string>();
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
      bounds = calibrationBounds(withExamples, cap, { announced: inputs.announced, reference: await inputs.reference?.(betas) });
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
        const raw = bySite.get(id)!.stats[b];
        const s = boundedStats(raw, counts.get(id)!, bounds.get(id)!);
        if (s.grad !== raw.grad || s.hess !== raw.hess) bounded.add(id);
        // Stryker disable next-line AssignmentOperator: equivalent: the search checks the NLL sum only for finiteness; the fit follows the gradient and curvature.
        nll += s.nll;
        grad += s.grad;
        hess += s.hess;
      }
      return { nll, grad, hess };
    });
  });
  // Stryker disable next-line ArrayDeclaration: equivalent: unreachable, the first question either sets the participants or throws.
  return { temperature, fittedOn, sites: participants ?? [], bounded: [...bounded].sort() };
}
