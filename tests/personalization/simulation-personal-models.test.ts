import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir } from '@fedtune/coordinator';
import { readModelWeights, RunReport } from '@fedtune/shared';
import { runSimulation } from '../../cli/src/simulation/run-simulation.ts';
import { siteReportTable } from '../../cli/src/ui/site-report-table.ts';
import { tempDir } from '../helpers/federation.ts';

describe('fedtune simulate with --personalize', () => {
  it('each site keeps its personal model under runs/<id>/sites/<site>/personal; the report and the table show every site', async () => {
    const out = tempDir();
    const result = await runSimulation({
      sites: 3,
      rounds: 1,
      out,
      transport: 'memory',
      maxExamples: 64,
      robustness: { when: 'never' },
      config: { personalization: { mode: 'head', epochs: 1 }, siteRobustness: { when: 'final', examples: 10, adversarialExamples: 5, corruptions: false, noiseSigmas: [0.2], pgdEps: [0.1], pgdSteps: 2 } },
    });
    expect(result.report.status, result.report.aborted).toBe('complete');
    // report.json on disk carries the section, and it parses with the report schema.
    const onDisk = RunReport.parse(JSON.parse(readFileSync(result.reportPath, 'utf8')));
    expect(onDisk.siteReport!.sites.map((s) => s.siteId)).toEqual(['site-1', 'site-2', 'site-3']);
    const global = readModelWeights(await loadModelDir(join(result.runDir, result.report.final!.modelDir))).arrays;
    for (const site of onDisk.siteReport!.sites) {
      const dir = join(result.runDir, 'sites', site.siteId, 'personal');
      expect(existsSync(join(dir, 'model.json')), dir).toBe(true);
      const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).userDefinedMetadata;
      expect(meta).toMatchObject({ personalized: true, siteId: site.siteId, runId: result.report.runId });
      const personal = readModelWeights(await loadModelDir(dir)).arrays;
      // Head mode: the hidden layer is the global model's, bit for bit; the head is the site's own (when adopted).
      expect(personal[0]).toEqual(global[0]);
      expect(personal[1]).toEqual(global[1]);
      if (site.adopted) expect(personal[2]).not.toEqual(global[2]);
    }
    const table = siteReportTable(onDisk.siteReport!).join('\n');
    for (const id of ['site-1', 'site-2', 'site-3']) expect(table).toContain(id);
    expect(table).toMatch(/worst site/);
    expect(table).toMatch(/personalised ≥ global on \d\/3 sites/);
    // The built-in task's headline ε (0.06 on the scanners) joins the sites' own PGD list (0.1 here), and the
    // section's robust accuracy — the worst site, the table's column — is read there, not at the largest ε.
    type Rows = { robust?: { pgd: Array<{ eps: number; accuracy: number }> } };
    for (const site of onDisk.siteReport!.sites) expect((site.arms.global as Rows).robust?.pgd.map((p) => p.eps), site.siteId).toEqual([0.06, 0.1]);
    expect(onDisk.siteReport!.robustEps).toBe(0.06);
    const at006 = onDisk.siteReport!.sites.map((site) => (site.arms.global as Rows).robust!.pgd.find((p) => p.eps === 0.06)!.accuracy);
    expect(onDisk.siteReport!.worst.global.robust!.accuracy).toBe(Math.min(...at006));
    expect(table).toContain('clean / PGD ε=0.06');
  });
});
