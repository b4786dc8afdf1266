import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { builtinDigits, selectNodeBackend } from '@fedtune/shared/node';
import { RdpAccountant } from '../../shared/src/privacy/rdp-accountant.ts';
import { FilePrivacyLedger } from '../../client-node/src/file-privacy-ledger.ts';
import { fedtune } from '../helpers/fedtune-cli.ts';
import { head, tempDir } from '../helpers/federation.ts';

const Z = 1.1;
const DELTA = 1e-5;

describe('the privacy ledger across a SIGKILL of the site process', () => {
  it('a `fedtune client` killed after round 1 and restarted with the same ledger continues the run\'s accountant: no spend is lost', async () => {
    const dir = tempDir();
    const ledgerPath = join(dir, 'site', 'ledger.jsonl');
    const backend = await selectNodeBackend();
    let killFirst: (() => void) | undefined;
    const coordinator = await startCoordinator({
      runsDir: join(dir, 'runs'),
      model: await loadModelDir(pretrainedModelDir('mlp')),
      architecture: 'mlp',
      holdout: head(builtinDigits().holdout, 100),
      backend: backend.backend,
      transport: 'socket',
      // SIGKILL the first site process as soon as the coordinator holds its round-1 update.
      onEvent: (e) => {
        if (e.type === 'result' && e.round === 1 && e.accepted) killFirst?.();
      },
      config: {
        runId: 'ledger-kill', rounds: 3, minSites: 1, seed: 5, roundTimeoutMs: 60_000, joinTimeoutMs: 120_000, federatedEvaluation: 'never', robustness: { when: 'never' },
        train: { epochs: 1, batchSize: 16, maxExamples: 32, learningRate: 0.05, optimizer: 'sgd', trainable: 'all', dpSgd: { clip: 1, noiseMultiplier: Z, delta: DELTA } },
      },
    });
    const args = ['client', '--server', coordinator.url!, '--site', 'site-1', '--data', 'digits:1/25', '--privacy-ledger', ledgerPath, '--workers', '1'];
    // First process: SIGKILLed once its round-1 update is in the coordinator.
    const first = fedtune(args);
    killFirst = first.kill;
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).toContain('privacy ledger');
    const afterKill = FilePrivacyLedger.open(ledgerPath);
    expect(afterKill.account('ledger-kill', 'record')!.round).toBe(1);
    // Second process, same ledger: it rejoins the run and finishes it.
    const second = await fedtune(args).done;
    const report = await coordinator.done;
    await coordinator.close();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`privacy ledger ${ledgerPath}: ε ${afterKill.totalEpsilon().toFixed(4)} spent in total over 1 run(s)`);
    expect(report.status).toBe('complete');
    expect(second.stdout).toMatch(/^round 3: privacy ledger ε [0-9.]+ spent in this run, [0-9.]+ in total$/m);

    const sent = report.rounds.filter((r) => r.accepted.some((a) => a.siteId === 'site-1'));
    expect(sent.length).toBeGreaterThanOrEqual(2);
    const ledger = FilePrivacyLedger.open(ledgerPath);
    const account = ledger.account('ledger-kill', 'record')!;
    const lines = readFileSync(ledgerPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l).entry);
    // One entry per update that left the site, each recorded before it left.
    expect(lines.map((e) => e.round)).toEqual(sent.map((r) => r.round));
    expect((killed.stdout + second.stdout).match(/^round \d+: trained on/gm)?.length ?? 0).toBeLessThanOrEqual(lines.length);
    // An uninterrupted accountant over the rounds actually sent: the same mechanism, the same steps.
    const [{ samplingRate, steps }] = lines[0].accountant.history;
    const uninterrupted = new RdpAccountant();
    for (let i = 0; i < sent.length; i++) uninterrupted.step(Z, samplingRate, steps);
    expect(account.state).toEqual(uninterrupted.state);
    expect(ledger.runEpsilon('ledger-kill')).toBe(uninterrupted.getEpsilon(DELTA).epsilon);
    // The coordinator was told the same numbers, and the restarted site did not start from zero.
    const last = sent.at(-1)!.accepted.find((a) => a.siteId === 'site-1')!;
    expect(last.ledger).toEqual({ runEpsilon: ledger.runEpsilon('ledger-kill'), totalEpsilon: ledger.totalEpsilon() });
    expect(last.epsilon).toBe(ledger.runEpsilon('ledger-kill'));
    expect(last.ledger!.runEpsilon!).toBeGreaterThan(afterKill.runEpsilon('ledger-kill'));
  }, 240_000);
});
