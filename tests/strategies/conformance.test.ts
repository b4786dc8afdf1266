import { describe, expect, it } from 'vitest';
import { strategies, strategyNames } from '../../shared/src/strategies/registry.ts';
import { runStrategyConformance, type StrategyUnderTest } from './strategy-conformance.ts';

/** How each registered strategy is exercised by the shared suite. A new strategy must be added here. */
const setup: Record<string, Omit<StrategyUnderTest, 'strategy'>> = {
  fedavg: { options: {}, identity: 'average' },
  fedavgm: { options: {}, identity: 'server-optimizer' },
  fedprox: { options: { proximalMu: 0.1 }, identity: 'average' },
  fedadam: { options: {}, identity: 'server-optimizer' },
  fedyogi: { options: {}, identity: 'server-optimizer' },
  fedadagrad: { options: {}, identity: 'server-optimizer' },
  fedmedian: { options: {}, identity: 'average' },
  fedtrimmedavg: { options: { beta: 0.2 }, identity: 'average' },
  krum: { options: { f: 1 }, identity: 'average' },
  multikrum: { options: { f: 1, m: 3 }, identity: 'average' },
  bulyan: { options: { f: 1 }, identity: 'average' },
  normclip: { options: { maxNorm: 5 }, identity: 'average' },
  centeredclip: { options: { radius: 1, iterations: 3 }, identity: 'average' },
};

describe('strategy registry', () => {
  it('has a conformance setup for every registered strategy', () => {
    expect([...strategyNames].sort()).toEqual(Object.keys(setup).sort());
  });
});

runStrategyConformance(strategyNames.filter((name) => setup[name]).map((name) => ({ strategy: strategies[name], ...setup[name] })));
