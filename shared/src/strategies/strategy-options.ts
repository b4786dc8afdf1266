import { FedtuneError } from '../errors.ts';

/**
 * Merges a strategy's defaults with the options it was given and rejects unknown keys, so a typo
 * (`serverlr`) fails loudly instead of silently running with the default.
 */
export function resolveOptions<O extends object>(strategy: string, defaults: O, given: Partial<O> | null | undefined): O {
  const out = { ...defaults };
  if (given === null || given === undefined) return out;
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new FedtuneError('config', `${strategy}: options must be an object`);
  }
  for (const [key, value] of Object.entries(given)) {
    if (!Object.hasOwn(defaults, key)) {
      const known = Object.keys(defaults);
      throw new FedtuneError('config', `${strategy}: unknown option "${key}" (known: ${known.length ? known.join(', ') : 'none'})`);
    }
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

export interface NumberRule {
  min?: number;
  /** `min` itself is not allowed. */
  minExclusive?: boolean;
  max?: number;
  maxExclusive?: boolean;
  integer?: boolean;
}

/** Throws FedtuneError('config') unless `value` is a finite number inside the rule's range. */
export function requireNumber(strategy: string, key: string, value: unknown, rule: NumberRule = {}): number {
  const fail = (why: string): never => {
    throw new FedtuneError('config', `${strategy}: option ${key} ${why}, got ${String(value)}`);
  };
  if (typeof value !== 'number' || !Number.isFinite(value)) fail('must be a finite number');
  const v = value as number;
  if (rule.integer && !Number.isInteger(v)) fail('must be an integer');
  if (rule.min !== undefined && (rule.minExclusive ? v <= rule.min : v < rule.min)) {
    fail(`must be ${rule.minExclusive ? '>' : '≥'} ${rule.min}`);
  }
  if (rule.max !== undefined && (rule.maxExclusive ? v >= rule.max : v > rule.max)) {
    fail(`must be ${rule.maxExclusive ? '<' : '≤'} ${rule.max}`);
  }
  return v;
}
