import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../coordinator/src/http/build-app.ts';
import { tempDir } from '../helpers/federation.ts';
import { awkwardHtmlReport } from './fixtures/awkward-report-html.ts';

/** A report of one round (the fixture the report's own tests render), as written to report.json. */
const valid = () => {
  const r = JSON.parse(JSON.stringify(awkwardHtmlReport(1, 2))) as { rounds: Array<Record<string, unknown>>; privacy?: unknown };
  // Its privacy rows are the renderer's, not a whole record's: left out.
  for (const round of r.rounds) delete round.privacy;
  delete r.privacy;
  return r;
};

describe('GET /api/runs/:id/report.html: a report that exists but does not read is said so, not "no report yet"', () => {
  const runsDir = tempDir('fedtune-report-route-');
  const write = (id: string, body: unknown) => {
    mkdirSync(join(runsDir, id), { recursive: true });
    writeFileSync(join(runsDir, id, 'report.json'), JSON.stringify(body));
  };
  write('ok', valid());
  write('empty', { ...valid(), rounds: [] });
  // What a federated evaluation with no answer wrote before (NaN → null): the whole report failed its schema.
  const broken = valid();
  broken.rounds[0].federated = { sites: [], accuracy: null };
  write('null-federated', broken);
  const { app } = buildApp({ runsDir, maxMessageBytes: 1 << 20, apiRateLimit: false });
  afterAll(() => app.close());

  it.each([
    ['ok', 200, undefined, undefined],
    ['empty', 404, 'not_found', 'run empty has no report yet (no round has finished)'],
    ['null-federated', 500, 'persistence', "run null-federated's report.json cannot be shown: rounds.0.federated.accuracy: Invalid input: expected number, received null"],
  ])('%s → %i', async (id, status, code, message) => {
    const res = await app.inject({ url: `/api/runs/${id}/report.html` });
    expect(res.statusCode).toBe(status);
    if (status === 200) expect(res.body).toMatch(/^<!doctype html>/i);
    else expect(res.json().error).toEqual({ code, message });
  });
});
