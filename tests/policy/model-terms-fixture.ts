import { canonicalHash, sha256Hex, type RunTerms } from '@fedtune/shared';
import { terms } from './terms-fixture.ts';

/** A one-layer model's topology and initial weights, and the plain run's terms that name them (4 parameters). */
export const topology = { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { units: 4 } }] } };
export const otherTopology = { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { units: 5 } }] } };
export const initial = new Uint8Array([1, 2, 3, 4]);
export const manifest = [{ name: 'd/kernel', shape: [1, 4], dtype: 'float32' as const }];
export const modelTerms = terms((t) => {
  t.model.topologyHash = canonicalHash(topology);
  t.model.initialWeightsHash = sha256Hex(initial);
  t.model.parameters = 4;
});

/** A copy of modelTerms with `change` applied. */
export const withModelTerms = (change: (t: RunTerms) => void): RunTerms => {
  const t = structuredClone(modelTerms);
  change(t);
  return t;
};
