import { InvalidArgumentError } from 'commander';

export function intOption(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

export function floatOption(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number in [${min}, ${max}]`);
    return n;
  };
}

export function trainableOption(value: string): 'all' | 'head' | number {
  if (value === 'all' || value === 'head') return value;
  const n = Number(value);
  if (Number.isInteger(n) && n >= 1) return n;
  throw new InvalidArgumentError('trainable must be all, head or a number of last layers');
}

export function choiceOption<T extends string>(name: string, choices: readonly T[]) {
  return (value: string): T => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}`);
    return value as T;
  };
}

/** Collects repeated `key=value` options into an object (values parsed as numbers when they look like one). */
export function keyValueOption(value: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const m = /^([A-Za-z][\w-]*)=(.*)$/.exec(value);
  if (!m) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  const raw = m[2];
  const n = Number(raw);
  return { ...previous, [m[1]]: raw !== '' && Number.isFinite(n) ? n : raw === 'true' ? true : raw === 'false' ? false : raw };
}
