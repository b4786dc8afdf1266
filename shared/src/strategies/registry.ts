import { FedtuneError } from '../errors.ts';
import { fedAvg } from './aggregate-fedavg.ts';
import type { Strategy } from './strategy.ts';

/** Every strategy, by its stable command-line name. */
export const strategies: Record<string, Strategy<any, any>> = {
  [fedAvg.name]: fedAvg,
};

export function getStrategy(name: string): Strategy<any, any> {
  const s = Object.hasOwn(strategies, name) ? strategies[name] : undefined;
  if (!s) throw new FedtuneError('config', `unknown strategy "${name}" (known: ${Object.keys(strategies).join(', ')})`);
  return s;
}
