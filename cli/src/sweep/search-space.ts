import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { unknownRunConfigFields } from '@fedtune/coordinator';
import { FedtuneError } from '@fedtune/shared';
import { readInputText } from '@fedtune/shared/node';

/**
 * A sweep's search space: each parameter is a run-config field by dotted path (`train.learningRate`,
 * `robustness.pgdSteps`) or one of the simulation's own options (SIMULATION_PARAMS), with a list of values
 * or a numeric range `{ min, max, log?, int? }` (random search only).
 */

/** The simulation options a sweep may vary, besides run-config fields. */
export const SIMULATION_PARAMS = ['arch', 'partition', 'sites', 'featureShift'] as const;
export type SimulationParam = (typeof SIMULATION_PARAMS)[number];

/** Run-config fields a sweep sets itself (per trial and per rung), so they cannot be searched over. */
const OWN_FIELDS = ['rounds', 'runId'];

const Scalar = z.union([z.number().finite(), z.string().max(200), z.boolean()]);
export type ParamValue = z.infer<typeof Scalar>;

const ValueList = z.array(Scalar).min(1).max(1000);
const Range = z
  .object({ min: z.number().finite(), max: z.number().finite(), log: z.boolean().default(false), int: z.boolean().default(false) })
  .strict()
  .refine((r) => r.min <= r.max, { message: 'min must be ≤ max' })
  .refine((r) => !r.log || r.min > 0, { message: 'a log range needs min > 0' })
  .refine((r) => !r.int || Math.ceil(r.min) <= Math.floor(r.max), { message: 'an int range needs an integer between min and max' });
export type ParamRange = z.output<typeof Range>;

export const ParamSpec = z.union([ValueList, Range]);
export type ParamSpec = z.output<typeof ParamSpec>;

const ParamKey = z.string().min(1).max(120).regex(/^[A-Za-z][\w]*(\.[A-Za-z][\w]*)*$/, 'a parameter is a dotted field path like train.learningRate');

export const SearchSpace = z.record(ParamKey, ParamSpec);
export type SearchSpace = z.output<typeof SearchSpace>;

/** A search-space file: `{ params: { key: [values] | { min, max, log, int } } }`. */
export const SearchSpaceFile = z.object({ params: SearchSpace }).strict();

export function isRange(spec: ParamSpec): spec is ParamRange {
  return !Array.isArray(spec);
}

export function isSimulationParam(key: string): key is SimulationParam {
  return (SIMULATION_PARAMS as readonly string[]).includes(key);
}

function fail(message: string): never {
  throw new FedtuneError('config', message);
}

function firstIssue(error: z.ZodError, where: string): string {
  const i = error.issues[0];
  // The path holds the user's key as given, before its length was checked: bounded like every echoed key.
  const path = i.path.length ? i.path.join('.').slice(0, 120) : '(top level)';
  // A record key that fails its schema is reported as "Invalid key in record": say what the key's own check said.
  // Stryker disable next-line ConditionalExpression,EqualityOperator: equivalent: zod's invalid_key issue always carries the key's own issues.
  const message = i.code === 'invalid_key' && i.issues.length > 0 ? i.issues[0].message : i.message;
  return `${where}: ${path}: ${message}`;
}

/** Refuses a parameter that is neither a run-config field nor a simulation option, naming the known ones. */
export function checkParamKey(key: string): void {
  if (isSimulationParam(key)) return;
  if (OWN_FIELDS.includes(key)) fail(`sweep parameter ${key}: the sweep sets it (use --min-rounds/--max-rounds for rounds)`);
  const value: Record<string, unknown> = {};
  const parts = key.split('.');
  let at = value;
  for (const p of parts.slice(0, -1)) at = (at[p] = {}) as Record<string, unknown>;
  at[parts[parts.length - 1]] = 0;
  const unknown = unknownRunConfigFields(value);
  // Bounded as it is: the key passed its schema (≤ 120 characters) and the known fields are the run config's own.
  if (unknown.length) fail(`sweep parameter ${key}: ${unknown[0]}; or a simulation option: ${SIMULATION_PARAMS.join(', ')}`);
}

/** Checks a whole space: schema, at least one parameter, known keys. */
export function checkSearchSpace(space: unknown, where: string): SearchSpace {
  const parsed = SearchSpace.safeParse(space);
  if (!parsed.success) fail(firstIssue(parsed.error, where));
  // zod's record leaves out a `__proto__` key without a word; refused as any malformed key would be, never ignored.
  // Parsed as a record: `space` is an object here.
  if (Object.hasOwn(space as object, '__proto__')) fail(`${where}: __proto__: a parameter is a dotted field path like train.learningRate`);
  for (const key of Object.keys(parsed.data)) checkParamKey(key);
  return parsed.data;
}

/** Reads a search-space file (JSON or YAML). */
export function loadSearchSpaceFile(path: string): SearchSpace {
  let text: string;
  try {
    text = readInputText(path, { what: 'search space', code: 'config', missingCode: 'not_found', maxBytes: 4 * 1024 * 1024 });
  } catch (err) {
    fail(`${path}: cannot read the search space${err instanceof FedtuneError && err.code === 'not_found' ? ': no such file' : `: ${(err as Error).message}`}`);
  }
  let raw: unknown;
  try {
    // Stryker disable next-line ObjectLiteral: equivalent: 100 is also yaml's default; stated so that a new default cannot loosen it.
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    fail(`${path}: not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${String((err as Error).message).split('\n')[0].slice(0, 200)}`);
  }
  const file = SearchSpaceFile.safeParse(raw);
  if (!file.success) fail(firstIssue(file.error, path));
  // The parameters as written (the file's schema has already left a `__proto__` key out of file.data).
  return checkSearchSpace((raw as { params: unknown }).params, path);
}

function scalar(raw: string): ParamValue {
  const n = Number(raw);
  if (raw.trim() !== '' && Number.isFinite(n)) return n;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}

/**
 * One `--param` value: `key=v1,v2,…` (numbers, true/false or strings) or a range `key=min..max`
 * (`:log` for log-uniform, `:int` for integers, both as `:log:int`).
 */
export function parseParamOption(text: string, previous: SearchSpace = {}): SearchSpace {
  const m = /^([^=]+)=(.*)$/.exec(text);
  if (!m || m[2] === '') fail(`--param expects key=v1,v2,… or key=min..max, got "${text.slice(0, 120)}"`);
  const key = m[1].trim();
  const range = /^([^.]+(?:\.\d+)?(?:e-?\d+)?)\.\.([^:]+)((?::(?:log|int))*)$/.exec(m[2]);
  const spec: unknown = range
    ? { min: Number(range[1]), max: Number(range[2]), log: range[3].includes(':log'), int: range[3].includes(':int') }
    : m[2].split(',').map(scalar);
  // Stryker disable next-line MethodExpression: equivalent: a key already in the space passed its schema (≤ 120 characters).
  if (Object.hasOwn(previous, key)) fail(`--param ${key.slice(0, 120)} given twice`);
  return checkSearchSpace({ ...previous, [key]: spec }, `--param ${key.slice(0, 120)}`);
}

/** The space of a sweep: the file's parameters, then `--param`s (a key in both is refused). */
export function combineSpaces(file: SearchSpace | undefined, params: SearchSpace | undefined): SearchSpace {
  const space: SearchSpace = { ...file };
  for (const [key, spec] of Object.entries(params ?? {})) {
    if (Object.hasOwn(space, key)) fail(`sweep parameter ${key} is both in the --space file and a --param`);
    space[key] = spec;
  }
  if (Object.keys(space).length === 0) fail('a sweep needs a search space: --space FILE or --param key=v1,v2');
  return space;
}
