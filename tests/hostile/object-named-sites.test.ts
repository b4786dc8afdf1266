import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startTestFederation, tempDir } from '../helpers/federation.ts';

/**
 * Site ids are letters, digits, '.', '_' and '-': `__proto__`, `constructor`, `toString`, `hasOwnProperty` and
 * `valueOf` are valid ids. A coordinator that keeps anything per site in a plain object would see Object's
 * own properties there (a site "already joined", a prototype replaced, a crash on `counts[site].reduce`).
 * A whole federation over socket.io with such sites: every site joins, trains, is evaluated and reported
 * under its own id, in report.json, report.html and the run database.
 */
const SITE_IDS = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'site-ok'];

it('sites named after Object\'s own properties take part like any other (socket.io, 2 rounds, per-site evaluation and robustness)', { timeout: 300_000 }, async () => {
  const runsDir = tempDir('object-named-sites-');
  const fed = await startTestFederation({
    sites: SITE_IDS.length,
    siteIds: SITE_IDS,
    rounds: 2,
    transport: 'socket',
    runsDir,
    maxSiteExamples: 60,
    holdoutExamples: 100,
    config: { federatedEvaluation: 'every-round', siteRobustness: { when: 'final', examples: 20, adversarialExamples: 10, pgdSteps: 2, noiseSigmas: [0.1], pgdEps: [0.05], corruptions: false } },
  });
  try {
    const report = await fed.coordinator.done;
    await Promise.all(fed.siteRuns);
    expect(report.status).toBe('complete');
    for (const round of report.rounds) {
      expect(round.accepted.map((a) => a.siteId).sort(), `round ${round.round}`).toEqual([...SITE_IDS].sort());
    }
    const runDir = join(runsDir, report.runId);
    const json = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as {
      rounds: Array<{ federated: { sites: Array<{ siteId: string; numExamples: number }> } }>;
      siteReport: { sites: Array<{ siteId: string; arms: { global: { accuracy: number } } }>; missing: string[] };
    };
    const sorted = [...SITE_IDS].sort();
    // Every round's federated evaluation and the final per-site report have one entry per site, under its own id.
    for (const round of json.rounds) {
      expect(round.federated.sites.map((s) => s.siteId).sort()).toEqual(sorted);
      for (const s of round.federated.sites) expect(s.numExamples, s.siteId).toBeGreaterThan(0);
    }
    expect(json.siteReport.sites.map((s) => s.siteId).sort()).toEqual(sorted);
    expect(json.siteReport.missing).toEqual([]);
    for (const s of json.siteReport.sites) expect(s.arms.global.accuracy, s.siteId).toBeTypeOf('number');
    // The run database and its API: one row per site.
    const res = await fetch(`${fed.coordinator.url}/api/runs/${report.runId}/sites`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as unknown;
    const rows = (Array.isArray(body) ? body : (body as { sites: unknown[] }).sites) as Array<{ siteId: string }>;
    expect(rows.map((r) => r.siteId).sort()).toEqual(sorted);
    // Nothing leaked into Object's prototype.
    expect(({} as Record<string, unknown>).accuracy).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(typeof ({} as { toString: unknown }).toString).toBe('function');
    expect(existsSync(join(runDir, 'report.html'))).toBe(true);
    const html = readFileSync(join(runDir, 'report.html'), 'utf8');
    for (const id of SITE_IDS) expect(html, id).toContain(id);
  } finally {
    await fed.coordinator.close();
  }
});
