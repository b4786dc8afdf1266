import { describe, expect, it } from 'vitest';
import { FedtuneError } from '../../shared/src/errors.ts';
import { aggregateFedProx, FEDPROX_DEFAULTS, fedProx, resolveFedProxOptions } from '../../shared/src/strategies/aggregate-fedprox.ts';
import type { TrainSettings } from '../../shared/src/strategies/strategy.ts';
import { f32, list, rows } from './helpers.ts';
import { thrown } from '../helpers/thrown.ts';

const train = { epochs: 2, batchSize: 16, learningRate: 0.01, optimizer: 'sgd', trainable: 'all' } as TrainSettings;

describe('FedProx (server side: the example-weighted average; μ goes to the sites)', () => {
  it('defaults to μ = 0.01, frozen, and resolves given options over it', () => {
    expect(FEDPROX_DEFAULTS).toEqual({ proximalMu: 0.01 });
    expect(Object.isFrozen(FEDPROX_DEFAULTS)).toBe(true);
    expect(resolveFedProxOptions()).toEqual({ proximalMu: 0.01 });
    expect(resolveFedProxOptions({})).toEqual({ proximalMu: 0.01 });
    expect(resolveFedProxOptions({ proximalMu: 0 })).toEqual({ proximalMu: 0 });
    expect(resolveFedProxOptions({ proximalMu: 2.5 })).toEqual({ proximalMu: 2.5 });
  });

  it('refuses a negative, non-finite or unknown option with FedtuneError(config) naming fedprox and the option', () => {
    const negative = thrown(() => resolveFedProxOptions({ proximalMu: -0.001 }));
    expect(negative.code).toBe('config');
    expect(negative.message).toBe('fedprox: option proximalMu must be ≥ 0, got -0.001');
    expect(thrown(() => resolveFedProxOptions({ proximalMu: Number.NaN })).message).toBe('fedprox: option proximalMu must be a finite number, got NaN');
    const unknown = thrown(() => resolveFedProxOptions({ mu: 1 } as never));
    expect(unknown.code).toBe('config');
    expect(unknown.message).toBe('fedprox: unknown option "mu" (known: proximalMu)');
  });

  it('aggregates by examples exactly: (1·[1,2] + 3·[3,6]) / 4 = [2.5, 5], whatever μ', () => {
    const u = rows([[1, 2], [3, 6]], [1, 3]);
    for (const mu of [0, 0.01, 1, 100]) expect(list(aggregateFedProx([f32(0, 0)], u, { proximalMu: mu }))).toEqual([[2.5, 5]]);
    expect(list(aggregateFedProx([f32(0, 0)], u))).toEqual([[2.5, 5]]);
  });

  it('checks its options when aggregating, not only when the run starts', () => {
    expect(thrown(() => aggregateFedProx([f32(0)], rows([[1]]), { proximalMu: -1 })).code).toBe('config');
    expect(thrown(() => fedProx.aggregate([f32(0)], rows([[1]]), null, { proximalMu: -1 })).code).toBe('config');
  });

  it('as a Strategy: name, reference, null state kept, options checked at the start', () => {
    expect(fedProx.name).toBe('fedprox');
    expect(fedProx.reference).toBe('Li et al. 2020, Federated Optimization in Heterogeneous Networks');
    expect(fedProx.initialState({ proximalMu: 1 })).toBeNull();
    expect(fedProx.initialState(undefined as never)).toBeNull();
    expect(thrown(() => fedProx.initialState({ proximalMu: -1 })).code).toBe('config');
    const out = fedProx.aggregate([f32(0, 0)], rows([[1, 2], [3, 6]], [1, 3]), null, { proximalMu: 0.5 });
    expect(list(out.weights)).toEqual([[2.5, 5]]);
    expect(out.state).toBeNull();
  });

  it('configureTrain adds μ to what the sites train with and changes nothing else', () => {
    const hook = fedProx.configureTrain!;
    expect(hook(train, { round: 1, state: null, options: { proximalMu: 0.3 } })).toEqual({ ...train, proximalMu: 0.3 });
    expect(hook(train, { round: 2, state: null, options: {} })).toEqual({ ...train, proximalMu: 0.01 });
    expect(hook(train, { round: 2, state: null, options: { proximalMu: 0 } })).toEqual({ ...train, proximalMu: 0 });
    expect(train).not.toHaveProperty('proximalMu');
    expect(thrown(() => hook(train, { round: 1, state: null, options: { proximalMu: -1 } })).code).toBe('config');
  });
});
