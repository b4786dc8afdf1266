import { loadModelDir, maxMessageBytesForModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { builtinDigits } from '@fedtune/shared/node';
import { head, tempDir } from '../helpers/federation.ts';

/** A coordinator of the start-up tests: the pretrained MLP over socket.io on `port`, 50 holdout digits, one round, no robustness evaluation. */
export function mlpSocketCoordinator(o: { port: number; backend: string; runId: string; minSites: number; seed: number }) {
  const modelDir = pretrainedModelDir('mlp');
  return startCoordinator({
    runsDir: tempDir(),
    architecture: 'mlp',
    backend: o.backend,
    transport: 'socket',
    port: o.port,
    maxMessageBytes: maxMessageBytesForModelDir(modelDir)!,
    load: async () => ({ model: await loadModelDir(modelDir), holdout: head(builtinDigits().holdout, 50) }),
    config: { runId: o.runId, rounds: 1, minSites: o.minSites, seed: o.seed, roundTimeoutMs: 60_000, joinTimeoutMs: 60_000, robustness: { when: 'never' } },
  });
}
