import type { Corruption } from '../corruption.ts';

const SHARE = 0.2; // share of features that go missing per example

export const missingZero: Corruption = {
  name: 'missing_zero',
  kind: 'tabular',
  severity: 1,
  description: `${SHARE * 100}% of the features (random per example) missing, filled with 0`,
  apply(x, { rng }) {
    const out = x.slice();
    for (let i = 0; i < x.length; i++) if (rng.next() < SHARE) out[i] = 0;
    return out;
  },
};

export const missingMean: Corruption = {
  name: 'missing_mean',
  kind: 'tabular',
  severity: 1,
  description: `${SHARE * 100}% of the features (random per example) missing, filled with the feature's mean`,
  apply(x, { rng, stats }) {
    const out = x.slice();
    for (let i = 0; i < x.length; i++) if (rng.next() < SHARE) out[i] = stats?.mean[i] ?? 0;
    return out;
  },
};
