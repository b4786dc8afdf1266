import type * as tf from '@tensorflow/tfjs';
import type { Dataset } from '../data/dataset.ts';
import type { SiteRobustnessSettings, SiteRobustnessSummary } from '../messages/site-report-schemas.ts';
import { evaluateRobustness } from '../robustness/evaluate-robustness.ts';

/**
 * A compact robustness summary of `model` on a site's test split (what the site sends; the samples stay):
 * mean accuracy under Gaussian noise and under the corruptions, and PGD accuracy per ε (step size
 * 2.5·max ε / steps, Madry et al.'s choice). Leaks no tensors (evaluateRobustness does not).
 */
export async function siteRobustnessSummary(model: tf.LayersModel, test: Dataset, settings: SiteRobustnessSettings): Promise<SiteRobustnessSummary> {
  const maxEps = Math.max(0, ...settings.pgdEps);
  const report = await evaluateRobustness(model, test, {
    examples: settings.examples,
    adversarialExamples: settings.adversarialExamples,
    seed: settings.seed,
    noise: settings.noiseSigmas.length ? settings.noiseSigmas : false,
    corruptions: settings.corruptions,
    fgsm: false,
    pgd: settings.pgdEps.length ? settings.pgdEps : false,
    pgdSteps: settings.pgdSteps,
    pgdStepSize: maxEps > 0 ? (2.5 * maxEps) / settings.pgdSteps : undefined,
  });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return {
    noiseMean: mean(report.noise.map((n) => n.accuracy)),
    corruptionMean: report.corruptionMean,
    pgd: report.pgd.map((p) => ({ eps: p.eps, accuracy: p.accuracy })),
  };
}
