import { describe, expect, it } from 'vitest';
import { confusionMatrix, expectedCalibrationError, macroF1, perClassMetrics, predictions, reliabilityBins, robustnessWarnings, worstClass } from '@fedtune/shared';

describe('calibration and classification metrics', () => {
  // Four examples, two classes. Confidences 0.9, 0.8, 0.6, 0.7 (the max of each row); the first and third
  // are right. With 15 bins of width 1/15: 0.9 → bin 13, 0.8 → bin 11, 0.6 → bin 8, 0.7 → bin 10.
  // Every example is alone in its bin, so ECE = mean |correct − confidence|
  //   = (|1 − 0.9| + |0 − 0.8| + |1 − 0.6| + |0 − 0.7|) / 4 = (0.1 + 0.8 + 0.4 + 0.7) / 4 = 0.5.
  const probs = [
    [0.9, 0.1],
    [0.2, 0.8],
    [0.4, 0.6],
    [0.7, 0.3],
  ];
  const labels = [0, 0, 1, 1];

  it('computes the ECE of a hand-made example (15 bins)', () => {
    expect(expectedCalibrationError(probs, labels)).toBeCloseTo(0.5, 6);
    // The same as a flat n×k array.
    expect(expectedCalibrationError(Float32Array.from(probs.flat()), labels)).toBeCloseTo(0.5, 6);
  });

  it('averages within a bin: one bin holding everything gives |accuracy − mean confidence|', () => {
    // One bin: accuracy 2/4, mean confidence (0.9 + 0.8 + 0.6 + 0.7) / 4 = 0.75 → ECE 0.25.
    expect(expectedCalibrationError(probs, labels, 1)).toBeCloseTo(0.25, 6);
    // Perfectly calibrated: confidence 1 and always right.
    expect(expectedCalibrationError([[1, 0], [0, 1]], [0, 1])).toBe(0);
  });

  it('reports the reliability diagram bins', () => {
    const bins = reliabilityBins(probs, labels);
    expect(bins).toHaveLength(15);
    expect(bins.reduce((s, b) => s + b.count, 0)).toBe(4);
    const b13 = bins[13];
    expect(b13.count).toBe(1);
    expect(b13.accuracy).toBe(1);
    expect(b13.confidence).toBeCloseTo(0.9, 6);
  });

  it('computes confusion, per-class precision/recall/F1, macro-F1 and the worst class', () => {
    const { predicted } = predictions(probs, 4); // [0, 1, 1, 0]
    const confusion = confusionMatrix(predicted, labels, 2);
    expect(confusion).toEqual([
      [1, 1],
      [1, 1],
    ]);
    const per = perClassMetrics(confusion);
    expect(per[0]).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(macroF1(per, confusion)).toBeCloseTo(0.5);
    const skewed = perClassMetrics([
      [3, 0, 0],
      [1, 1, 0],
      [0, 0, 0],
    ]);
    // class 0: precision 3/4, recall 1 → F1 6/7; class 1: precision 1, recall 1/2 → F1 2/3; class 2 absent.
    expect(skewed[0].f1).toBeCloseTo(6 / 7);
    expect(skewed[1].f1).toBeCloseTo(2 / 3);
    expect(macroF1(skewed, [[3, 0, 0], [1, 1, 0], [0, 0, 0]])).toBeCloseTo((6 / 7 + 2 / 3) / 2);
    expect(worstClass(skewed)).toEqual({ label: 1, accuracy: 0.5 });
  });
});

describe('self-checks', () => {
  const ok = {
    adversarialCleanAccuracy: 0.9,
    fgsm: [
      { eps: 0.1, accuracy: 0.5 },
      { eps: 0.2, accuracy: 0.3 },
    ],
    pgd: [
      { eps: 0.1, steps: 40, stepSize: 0.01, accuracy: 0.4 },
      { eps: 0.2, steps: 40, stepSize: 0.01, accuracy: 0.2 },
    ],
  };
  it('pass a sound evaluation', () => {
    expect(robustnessWarnings(ok, 0.9)).toEqual([]);
  });
  it('flag accuracy rising with ε, PGD beating FGSM, and ε = 0 differing from clean', () => {
    const bad = { ...ok, fgsm: [{ eps: 0.1, accuracy: 0.3 }, { eps: 0.2, accuracy: 0.35 }] };
    const w = robustnessWarnings(bad, 0.85);
    expect(w.some((s) => s.includes('FGSM accuracy rises with ε'))).toBe(true);
    expect(w.some((s) => s.includes('PGD is weaker than FGSM at ε=0.1'))).toBe(true);
    expect(w.some((s) => s.includes('ε=0'))).toBe(true);
  });
});

describe('evaluation schedule and site summary', () => {
  it('decides which rounds get a robustness evaluation', async () => {
    const { shouldEvaluateRobustness, RobustnessEvaluationConfig } = await import('@fedtune/shared');
    expect([1, 2, 3, 4, 5].map((r) => shouldEvaluateRobustness(2, r, 5))).toEqual([false, true, false, true, true]);
    expect([1, 5].map((r) => shouldEvaluateRobustness('final', r, 5))).toEqual([false, true]);
    expect(shouldEvaluateRobustness('never', 5, 5)).toBe(false);
    expect(RobustnessEvaluationConfig.parse({})).toEqual({ when: 'final' });
    expect(() => RobustnessEvaluationConfig.parse({ when: 0 })).toThrow();
  });

  it('summarizes site accuracies: worst, 10th percentile, mean', async () => {
    const { siteAccuracySummary } = await import('@fedtune/shared');
    const s = siteAccuracySummary([0.9, 0.5, 0.7, 0.8, 0.6, 0.95, 0.85, 0.75, 0.65, 0.55, 0.99].map((accuracy, i) => ({ siteId: `s${i}`, accuracy })));
    expect(s.worst).toEqual({ siteId: 's1', accuracy: 0.5 });
    expect(s.p10).toBeCloseTo(0.55); // position 1 of 11 sorted values
    expect(siteAccuracySummary([])).toEqual({ worst: null, p10: null, mean: null });
  });
});
