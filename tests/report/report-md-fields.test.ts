import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RoundRecord, RunReport } from '@fedtune/shared';

/**
 * docs/report.md documents every field report.json can have: each key of the RunReport zod schema has a row in
 * its first table, each key of a round record a row in the round table. Before 2026-12-07 seven top-level fields
 * (privacy, finalRobustness, resumedAt, terms, termsRefusals, dataSummaries, audit) and five round fields
 * (privacy, updateEncoding, secureAggregation, averagedRounds, busy) were in report.json but not in the docs.
 */
const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'report.md'), 'utf8');

/** The fields named in the first column of the first markdown table after the line `after`. */
function tableFields(after: string): Set<string> {
  const lines = doc.slice(doc.indexOf(after)).split('\n');
  const start = lines.findIndex((l) => l.startsWith('| field |'));
  const fields = new Set<string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    for (const m of line.split('|')[1]!.matchAll(/`([A-Za-z]+)(?:\[\])?`/g)) fields.add(m[1]!);
  }
  return fields;
}

describe('docs/report.md names every field of report.json', () => {
  it.each<[string, string, string[]]>([
    ['the run report', '# `runs/<run-id>/report.json`', Object.keys(RunReport.shape)],
    ['a round record', 'A round record:', Object.keys(RoundRecord.shape)],
  ])('%s', (_name, heading, keys) => {
    const documented = tableFields(heading);
    expect(keys.filter((k) => !documented.has(k))).toEqual([]);
    // And nothing documented that the schema does not have.
    expect([...documented].filter((k) => !keys.includes(k))).toEqual([]);
  });
});
