import { extname } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { FedtuneError, jsonSyntaxMessage } from '@fedtune/shared';
import { readInputText } from '@fedtune/shared/node';
import { RunConfig, type RunConfigInput } from '../engine/run-config.ts';

/** A run configuration as written in a file or given as flags: any subset of the fields, `train` partial too. */
export type PartialRunConfigInput = Partial<Omit<RunConfigInput, 'train'>> & { train?: Partial<NonNullable<RunConfigInput['train']>> };

export type ConfigPath = ReadonlyArray<string | number>;

/** A config file, parsed and checked (syntax, known fields, field types). */
export interface RunConfigFile {
  path: string;
  format: 'json' | 'yaml';
  values: PartialRunConfigInput;
  /** Line and column (1-based) of a field in the file, when known (YAML). */
  locate(path: ConfigPath): { line: number; col: number } | undefined;
}

export interface MergeOptions {
  /** Command-line spelling of fields for messages, by dotted path: `{ rounds: '--rounds', 'train.epochs': '--epochs' }`. */
  flagNames?: Record<string, string>;
}

const PLACEHOLDER_RUN_ID = 'config-check';

/** Largest run configuration file read (a real one is a few kB; a bigger file is a mistake, not a config). */
export const MAX_RUN_CONFIG_BYTES = 4 * 1024 * 1024;

function fail(message: string, cause?: unknown): never {
  throw new FedtuneError('config', message, cause === undefined ? undefined : { cause });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/** A field name as echoed in a message: at most this many characters of it (a hostile key can be a megabyte). */
const MAX_ECHOED_KEY = 120;
/** Keys longer than this get no "did you mean" hint: no field name is near one (and the distance costs length × field). */
const MAX_HINTED_KEY = 64;
/** Unknown fields reported at most (a body of 60,000 unknown keys is one message, not 60,000). */
export const MAX_UNKNOWN_FIELDS = 20;

function dotted(path: ConfigPath): string {
  return path.length ? path.map((p) => String(p).slice(0, MAX_ECHOED_KEY)).join('.') : '(top level)';
}

function getPath(obj: unknown, path: ConfigPath): unknown {
  let v = obj;
  for (const key of path) {
    if (!isPlainObject(v) && !Array.isArray(v)) return undefined;
    v = (v as Record<string | number, unknown>)[key as string];
  }
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  // Stryker disable next-line ConditionalExpression: equivalent: JSON and YAML hold no value JSON.stringify leaves undefined (a function, a symbol)
  return text === undefined ? String(v) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ---- the schema's shape, for unknown-field checks -----------------------------------------------

type AnySchema = z.ZodType & { def: { type: string; innerType?: AnySchema }; shape?: Record<string, AnySchema> };

function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator,StringLiteral: equivalent: RunConfig wraps no object in nullable, and its wrappers with an innerType are these
  while ((s.def.type === 'default' || s.def.type === 'optional' || s.def.type === 'nullable' || s.def.type === 'prefault') && s.def.innerType) s = s.def.innerType;
  return s;
}

/** Levenshtein distance, case-insensitive, in two rows. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[y.length];
}

/** ` (did you mean "field"?)` for a key within a third of its length (at least 2) of a known field; '' otherwise. */
export function spellingHint(key: string, known: readonly string[]): string {
  if (key.length > MAX_HINTED_KEY) return '';
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(key, k);
    if (!best || d < best.d) best = { k, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best.k}"?)` : '';
}

function unknownFields(value: Record<string, unknown>, schema: AnySchema, path: Array<string | number>, out: Array<{ path: Array<string | number>; message: string }> = []): Array<{ path: Array<string | number>; message: string }> {
  const s = unwrap(schema);
  if (!s.shape) return out; // not an object schema: no fields to know
  const known = Object.keys(s.shape);
  for (const key in value) {
    if (out.length >= MAX_UNKNOWN_FIELDS) break;
    if (!Object.hasOwn(value, key)) continue;
    const here = [...path, key];
    // An own field only: `constructor` or `toString` in a file is an unknown field, not Object's.
    const child = Object.hasOwn(s.shape, key) ? s.shape[key] : undefined;
    if (!child) out.push({ path: here, message: `unknown field${spellingHint(key, known)}; known fields: ${known.join(', ')}` });
    else if (isPlainObject(value[key])) unknownFields(value[key], child, here, out);
  }
  return out;
}

/**
 * The fields of `values` that RunConfig does not know (nested ones too), one "path: unknown field …" line each:
 * the first MAX_UNKNOWN_FIELDS of them, each key echoed as at most 120 characters.
 */
export function unknownRunConfigFields(values: Record<string, unknown>): string[] {
  return unknownFields(values, RunConfig as unknown as AnySchema, []).map((u) => `${dotted(u.path)}: ${u.message}`);
}

// ---- zod issues as sentences -----------------------------------------------------------------------

export interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  errors?: Issue[][];
  expected?: string;
  values?: unknown[];
}

function expectedOf(issues: Issue[]): string | undefined {
  const i = issues[0];
  // Stryker disable next-line ConditionalExpression: equivalent: zod gives each failed option of a union at least one issue
  if (!i) return undefined;
  // An issue inside the option (an object's field) says what that field expected, not what the option is.
  if (i.path.length > 0) return undefined;
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: zod sets `values` on invalid_value issues only
  if (i.code === 'invalid_value' && i.values) return i.values.map((v) => JSON.stringify(v)).join(' | ');
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent: zod sets `expected` on invalid_type issues only
  if (i.code === 'invalid_type' && i.expected) return i.expected;
  return undefined;
}

/** A zod issue as the end of one line: a union's options listed, zod's "Invalid input: " dropped. */
export function explainIssue(issue: Issue): string {
  // Stryker disable next-line ConditionalExpression,LogicalOperator,OptionalChaining: equivalent: zod sets `errors` on invalid_union issues only
  if (issue.code === 'invalid_union' && issue.errors?.length) {
    const options = issue.errors.map(expectedOf).filter((x): x is string => !!x);
    if (options.length === issue.errors.length) return `expected one of: ${options.join(' | ')}`;
  }
  // Stryker disable next-line Regex: equivalent: zod's messages hold "Invalid input: " at their start only
  return issue.message.replace(/^Invalid input: /, '');
}

/** Merges plain objects key by key; arrays and everything else are replaced; `undefined` never overrides. */
export function deepMerge(...layers: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!isPlainObject(layer)) continue;
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      out[k] = isPlainObject(v) && isPlainObject(out[k]) ? deepMerge(out[k], v) : v;
    }
  }
  return out;
}

/** The schema's defaults (everything but `runId`). */
export function runConfigDefaults(): Omit<RunConfig, 'runId'> {
  const { runId: _, ...defaults } = RunConfig.parse({ runId: PLACEHOLDER_RUN_ID });
  return defaults;
}

// ---- files -------------------------------------------------------------------------------------------

/** Parses config text (JSON or YAML) and checks it: syntax, a mapping at the top, known fields, field types. */
export function parseRunConfigText(text: string, path: string, format?: 'json' | 'yaml'): RunConfigFile {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a byte-order mark (Windows editors write one)
  const fmt = format ?? (extname(path).toLowerCase() === '.json' ? 'json' : extname(path).toLowerCase() === '.yaml' || extname(path).toLowerCase() === '.yml' ? 'yaml' : text.trimStart().startsWith('{') ? 'json' : 'yaml');
  let values: unknown;
  let locate: RunConfigFile['locate'] = () => undefined;
  if (fmt === 'json') {
    try {
      values = JSON.parse(text);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const pos = /position (\d+)/.exec(msg);
      let where = '';
      if (pos) {
        const before = text.slice(0, Number(pos[1]));
        const line = before.split('\n').length;
        where = `:${line}:${Number(pos[1]) - before.lastIndexOf('\n')}`;
      }
      fail(`${path}${where}: not valid JSON: ${jsonSyntaxMessage(err)}`, err);
    }
  } else {
    const lineCounter = new LineCounter();
    const doc: Document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
    // One line: the YAML library's message continues with a drawing of the line, which the position replaces.
    if (doc.errors.length) fail(`${path}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`, doc.errors[0]);
    try {
      // Stryker disable next-line ObjectLiteral: equivalent: 100 is the yaml library's default too (said here, not left to it)
      values = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // An alias expanded too often (a "billion laughs" document) or nested too deep to convert.
      // Stryker disable next-line MethodExpression: equivalent: the yaml library's messages are shorter (the cut is a bound, not a format)
      fail(`${path}: not valid YAML: ${String((err as Error).message).split('\n')[0].slice(0, 200)}`, err);
    }
    locate = (p) => {
      const node = doc.getIn(p as Array<string | number>, true) as { range?: [number, number, number] } | undefined;
      const pair = node?.range ? node : undefined;
      if (!pair?.range) return undefined;
      const { line, col } = lineCounter.linePos(pair.range[0]);
      return { line, col };
    };
  }
  values ??= {};
  if (!isPlainObject(values)) fail(`${path}: a run configuration must be a mapping of fields (got ${Array.isArray(values) ? 'a list' : typeof values})`);
  const where = (p: ConfigPath) => {
    const at = locate(p);
    return at ? `${path}:${at.line}:${at.col}` : path;
  };
  const problems = unknownFields(values, RunConfig as unknown as AnySchema, []).map((u) => `${where(u.path)}: ${dotted(u.path)}: ${u.message}`);
  // Check the file's own fields now, so its mistakes are reported against it (runId may come from flags).
  const probe = RunConfig.safeParse(deepMerge(runConfigDefaults(), { runId: PLACEHOLDER_RUN_ID }, values));
  if (!probe.success) {
    for (const i of probe.error.issues as unknown as Issue[]) {
      const p = i.path as Array<string | number>;
      problems.push(`${where(p)}: ${dotted(p)}: ${explainIssue(i)} (got ${describe(getPath(values, p))})`);
    }
  }
  // One line: the problems joined with "; ".
  if (problems.length) fail(problems.join('; '), probe.error);
  return { path, format: fmt, values: values as PartialRunConfigInput, locate };
}

/** Reads a run configuration file (`.json`, `.yaml`, `.yml`). Throws FedtuneError('config') naming the file, field and problem. */
export function loadRunConfigFile(path: string): RunConfigFile {
  let text: string;
  try {
    text = readInputText(path, { what: 'run configuration', code: 'config', missingCode: 'not_found', maxBytes: MAX_RUN_CONFIG_BYTES });
  } catch (err) {
    if (err instanceof FedtuneError && err.code !== 'not_found') throw err;
    fail(`${path}: cannot read the run configuration: no such file`, err);
  }
  return parseRunConfigText(text, path);
}

/**
 * The run configuration from defaults < file < command-line flags, validated. `flags` holds only the
 * fields given on the command line (undefined values are ignored); nested objects (`train`,
 * `strategyOptions`) merge field by field. Errors name where the bad value came from.
 */
export function mergeRunConfig(file: RunConfigFile | PartialRunConfigInput | undefined, flags: PartialRunConfigInput = {}, options: MergeOptions = {}): RunConfig {
  const loaded = file && 'locate' in file && typeof file.locate === 'function' ? (file as RunConfigFile) : undefined;
  const fileValues = (loaded ? loaded.values : file) ?? {};
  const merged = deepMerge(runConfigDefaults(), fileValues, flags);
  const result = RunConfig.safeParse(merged);
  if (result.success) return result.data;
  const lines = (result.error.issues as unknown as Issue[]).map((i) => {
    const p = i.path as Array<string | number>;
    const key = dotted(p);
    const flag = options.flagNames?.[key];
    let source: string;
    if (getPath(flags, p) !== undefined) source = flag ? `command line ${flag}` : 'command line';
    else if (getPath(fileValues, p) !== undefined) {
      const at = loaded?.locate(p);
      source = loaded ? (at ? `${loaded.path}:${at.line}:${at.col}` : loaded.path) : 'config';
    } else if (getPath(merged, p) === undefined) {
      const hint = `set "${key}" in the config file${flag ? ` or pass ${flag}` : ' or on the command line'}`;
      return `${key}: required (${hint})`;
    } else source = 'defaults';
    return `${source}: ${key}: ${explainIssue(i)} (got ${describe(getPath(merged, p))})`;
  });
  // One line: each problem with where its value came from, joined with "; ".
  fail(`invalid run configuration: ${lines.join('; ')}`, result.error);
}
