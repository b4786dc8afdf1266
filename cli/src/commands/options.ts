import { InvalidArgumentError, Option, type Command } from 'commander';

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

/**
 * A number flag checked by the schema field it sets, so the bounds live in one place (the schema): e.g.
 * `--pgd-step-size` by RobustnessEvaluationConfig's `pgdStepSize` (> 0, ≤ 1). Not a number, or out of the
 * field's bounds: commander's one-line error with the schema's reason.
 */
export function schemaNumberOption(name: string, field: { safeParse(value: unknown): { success: boolean; error?: { issues: ReadonlyArray<{ message: string }> } } }) {
  return (value: string): number => {
    const n = value.trim() === '' ? NaN : Number(value);
    const checked = field.safeParse(n);
    if (!checked.success) throw new InvalidArgumentError(`${name}: ${checked.error?.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(value.slice(0, 40))})`);
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

/** `--dp-clip C` or `--dp-clip adaptive:QUANTILE[:INITIAL]` (initial clip defaults to 1). */
export function dpClipOption(value: string): { clip: number; adaptive?: { targetQuantile: number; learningRate: number } } {
  const m = /^adaptive:([0-9.]+)(?::([0-9.]+))?$/.exec(value);
  if (m) {
    const q = Number(m[1]);
    if (!(q >= 0 && q <= 1)) throw new InvalidArgumentError('adaptive clipping needs a target quantile in [0, 1]');
    return { clip: m[2] ? Number(m[2]) : 1, adaptive: { targetQuantile: q, learningRate: 0.2 } };
  }
  const c = Number(value);
  if (!(c > 0)) throw new InvalidArgumentError('dp-clip must be a positive number or adaptive:QUANTILE');
  return { clip: c };
}

/** `--robustness WHEN`: final, every-round, never, or every K rounds. */
export function robustnessWhenOption(value: string): 'final' | 'every-round' | 'never' | number {
  if (value === 'final' || value === 'every-round' || value === 'never') return value;
  const n = Number(value);
  if (Number.isInteger(n) && n >= 1) return n;
  throw new InvalidArgumentError('robustness must be final, every-round, never or a number of rounds');
}

/** A TCP port: an integer in 0..65535 (0 picks a free one). */
export function portOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`port must be an integer in 0..65535, got ${value}`);
  return n;
}

/**
 * A coordinator URL: http(s)://host[:port][/path]. A bare host[:port] (e.g. localhost:8080) means http://.
 * Anything else is refused with what a URL should look like.
 */
export function serverUrlOption(value: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : /^[A-Za-z0-9.-]+(:\d+)?(\/.*)?$|^\[[0-9a-fA-F:]+\](:\d+)?(\/.*)?$/.test(value) ? `http://${value}` : undefined;
  let url: URL | undefined;
  try {
    url = withScheme ? new URL(withScheme) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname) {
    throw new InvalidArgumentError(`server must be a URL like http://localhost:8080 or https://coordinator.example.org, got "${value.slice(0, 200)}"`);
  }
  return url.toString().replace(/\/$/, '');
}

/** One coordinator URL, or several separated by commas (the nodes of a cluster: the site fails over between them). */
export function serverUrlListOption(value: string): string[] {
  const urls = value.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
  if (urls.length === 0 || urls.length > 64) throw new InvalidArgumentError(`server must be one URL or 1–64 comma-separated URLs, got "${value.slice(0, 200)}"`);
  return urls.map(serverUrlOption);
}

/** A site name as a hello carries it: 1–128 letters, digits, ".", "_" or "-". */
export function siteNameOption(value: string): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(value)) throw new InvalidArgumentError(`site name must be 1–128 letters, digits, ".", "_" or "-", got "${value.slice(0, 130)}"`);
  return value;
}

/** A comma-separated list of CSV column names (`--categorical`, `--feature-columns`). */
export function columnListOption(value: string): string[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('expected column names separated by commas');
  return names;
}

/**
 * Whether `command`'s option was typed on its command line (not a default, an environment variable or absent):
 * `option` is its attribute name (`syncEvery`) or its flag (`--sync-every`).
 */
export function typedOnCommandLine(command: Command, option: string): boolean {
  return command.getOptionValueSource(option.startsWith('-') ? new Option(option).attributeName() : option) === 'cli';
}
