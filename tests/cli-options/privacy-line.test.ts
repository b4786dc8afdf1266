import { describe, expect, it } from 'vitest';
import { RunConfig } from '@fedtune/coordinator';
import { privacyLine } from '../../cli/src/ui/privacy-line.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { tempDir } from '../helpers/federation.ts';

const config = (c: Record<string, unknown>) => RunConfig.parse({ runId: 'r', ...c });

describe('the privacy line a run prints as it starts', () => {
  it.each([
    ['no protection beyond local data: no line', {}, undefined],
    ['secure aggregation', { secureAggregation: { clip: 1 } }, "privacy: secure aggregation (sites mask their updates; the coordinator sees only each round's sum; clip 1)"],
    ['secure aggregation with a threshold', { secureAggregation: { clip: 2, threshold: 3 } }, "privacy: secure aggregation (sites mask their updates; the coordinator sees only each round's sum; clip 2, threshold 3)"],
    ['central client-level DP', { dp: { noiseMultiplier: 1.1, clip: 0.5 } }, 'privacy: client-level DP (the coordinator adds Gaussian noise ×1.1 of the clip 0.5, δ 0.00001; ε per round in the table and the report)'],
    ['adaptive clip', { dp: { noiseMultiplier: 1, clip: 1, adaptive: { targetQuantile: 0.5 } } }, 'privacy: client-level DP (the coordinator adds Gaussian noise ×1 of the clip 1 (adaptive), δ 0.00001; ε per round in the table and the report)'],
    ['DP-SGD', { train: { epochs: 1, batchSize: 32, learningRate: 0.001, optimizer: 'adam', trainable: 'all', dpSgd: { clip: 0.7, noiseMultiplier: 1.2 } } }, "privacy: DP-SGD at the sites (per-example clip 0.7, noise ×1.2; each site's ε in its privacy ledger)"],
    [
      'distributed DP under secure aggregation',
      { secureAggregation: { clip: 1 }, dp: { noiseMultiplier: 1, clip: 1, noise: 'distributed' } },
      "privacy: secure aggregation (sites mask their updates; the coordinator sees only each round's sum; clip 1); client-level DP (the sites add Gaussian noise ×1 of the clip 1, δ 0.00001; ε per round in the table and the report)",
    ],
  ])('%s', (_label, c, want) => {
    expect(privacyLine(config(c))).toBe(want);
  });

  it('fedtune simulate --secure-aggregation says so before the first round', async () => {
    const r = await fedtune(['simulate', '--sites', '3', '--rounds', '1', '--secure-aggregation', '--secagg-clip', '1', '--robustness', 'never', '--federated-eval', 'never', '--transport', 'memory', '--max-examples', '40', '--out', tempDir()]).done;
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    const at = lines.findIndex((l) => l.startsWith('privacy: secure aggregation'));
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(lines.findIndex((l) => /^ +1 /.test(l)));
  }, 120_000);
});
