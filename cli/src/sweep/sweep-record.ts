import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileDurable } from '@fedtune/coordinator';
import { FedtuneError, jsonSyntaxMessage } from '@fedtune/shared';
import { checkSearchSpace } from './search-space.ts';
import { SweepSettings } from './sweep-settings.ts';

/** sweep.json's version; a record of another version is refused, not guessed at. */
export const SWEEP_RECORD_VERSION = 1;

const Fraction = z.number().min(0).max(1).nullable();
const Params = z.record(z.string().max(120), z.union([z.number(), z.string().max(200), z.boolean()]));

/** One trial run at one rung. */
export const TrialResult = z.object({
  trial: z.number().int().min(0),
  rung: z.number().int().min(0),
  rounds: z.number().int().min(1),
  params: Params,
  status: z.enum(['complete', 'failed']),
  clean: Fraction,
  robust: Fraction,
  ece: z.number().min(0).nullable(),
  /** The objective's value (null for a failed trial). */
  score: z.number().nullable(),
  durationMs: z.number().min(0),
  runId: z.string().max(128),
  /** report.json of the trial's run, relative to the sweep directory. */
  reportPath: z.string().max(1000).nullable(),
  error: z.string().max(600).optional(),
});
export type TrialResult = z.infer<typeof TrialResult>;

/** sweep.json: the settings (enough to re-plan), the plan, every finished trial, and the Pareto front. */
export const SweepRecord = z.object({
  version: z.literal(SWEEP_RECORD_VERSION),
  settings: SweepSettings,
  /** Rounds of each rung of successive halving. */
  rungs: z.array(z.number().int().min(1)),
  /** The trials of the first rung, numbered from 0. */
  trials: z.array(z.object({ trial: z.number().int().min(0), params: Params })),
  results: z.array(TrialResult),
  /** Trial numbers on the Pareto front of clean vs robust accuracy (each trial at its last finished rung). */
  front: z.array(z.number().int().min(0)),
  status: z.enum(['running', 'complete']),
});
export type SweepRecord = z.infer<typeof SweepRecord>;

export function sweepRecordPath(dir: string): string {
  return join(dir, 'sweep.json');
}

/** The sweep recorded in `dir`, or undefined when there is none. A file that is not a sweep record is refused. */
export function readSweepRecord(dir: string): SweepRecord | undefined {
  const path = sweepRecordPath(dir);
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FedtuneError('config', `${path}: not valid JSON: ${jsonSyntaxMessage(err)}`);
  }
  const parsed = SweepRecord.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new FedtuneError('config', `${path} is not a sweep record of this version: ${i.path.join('.') || '(top level)'}: ${i.message.slice(0, 200)}`);
  }
  // The search space is checked as the command line's is (--param): a record edited by hand cannot search a field
  // the command line refuses (an own field like rounds, a path through a prototype).
  try {
    checkSearchSpace(parsed.data.settings.space, 'settings.space');
  } catch (err) {
    throw new FedtuneError('config', `${path} (settings.space) is not a search space the command line allows: ${String((err as Error).message).slice(0, 300)}`);
  }
  return parsed.data;
}

/** Writes sweep.json atomically and durably: a crash leaves the previous record or this one, never a mix. */
export async function writeSweepRecord(dir: string, record: SweepRecord): Promise<void> {
  await writeFileDurable(sweepRecordPath(dir), [new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`)]);
}
