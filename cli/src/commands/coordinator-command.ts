import { join } from 'node:path';
import { Command } from 'commander';
import { hasPretrainedModel, loadModelDir, pretrainedModelDir, startCoordinator } from '@fedtune/coordinator';
import { FedtuneError } from '@fedtune/shared';
import { builtinDigits, describeBackend, readCsvDataset, selectNodeBackend } from '@fedtune/shared/node';
import { newRunId } from '../simulation/run-simulation.ts';
import { RoundProgress } from '../ui/round-progress.ts';
import { pct } from '../ui/format.ts';
import { choiceOption, floatOption, intOption, trainableOption } from './options.ts';

export function coordinatorCommand(): Command {
  return new Command('coordinator')
    .description('serve a run: sites join over socket.io, the coordinator aggregates and evaluates; exits when the run completes')
    .option('--port <n>', 'port to listen on', intOption('port'), 8080)
    .option('--host <addr>', 'address to bind', '0.0.0.0')
    .option('--rounds <n>', 'number of rounds', intOption('rounds', 1), 10)
    .option('--min-sites <n>', 'sites that must join before the first round', intOption('min-sites', 1), 2)
    .option('--seed <n>', 'seed for sampling and training', intOption('seed'), 42)
    .option('--out <dir>', 'directory for runs', 'runs')
    .option('--run-id <id>', 'run id (default: generated)')
    .option('--serve', 'keep the API up after the run completes')
    .option('--arch <name>', 'architecture of the built-in pretrained model', 'mlp')
    .option('--model <dir>', 'start from this TensorFlow.js model directory instead of the built-in checkpoint')
    .option('--holdout <file.csv>', "the coordinator's held-out set (default: the built-in digits holdout)")
    .option('--label-column <name>', 'label column of the holdout CSV', 'label')
    .option('--fraction <x>', 'share of sites sampled per round', floatOption('fraction', 0.001, 1), 1)
    .option('--quorum <x>', 'share of the selected sites whose results must be accepted', floatOption('quorum', 0.001, 1), 0.5)
    .option('--round-timeout <s>', 'seconds to wait for results each round', intOption('round-timeout', 1), 300)
    .option('--epochs <n>', 'local epochs per round', intOption('epochs', 1), 1)
    .option('--batch-size <n>', 'local batch size', intOption('batch-size', 1), 32)
    .option('--lr <x>', 'local learning rate', floatOption('lr', 1e-9, 10), 0.001)
    .option('--optimizer <name>', 'sgd, momentum or adam', choiceOption('optimizer', ['sgd', 'momentum', 'adam'] as const), 'adam')
    .option('--trainable <scope>', 'which layers train: all, head, or the last K layers', trainableOption, 'all')
    .option('--federated-eval <when>', 'never, final or every-round', choiceOption('federated-eval', ['never', 'final', 'every-round'] as const), 'final')
    .option('--backend <name>', 'tfjs backend for evaluation (default: fastest available)')
    .action(async (o) => {
      const selection = await selectNodeBackend(o.backend);
      console.log(describeBackend(selection));
      if (!o.model && !hasPretrainedModel(o.arch)) throw new FedtuneError('config', `no pretrained ${o.arch} checkpoint: run \`fedtune pretrain --arch ${o.arch}\``);
      const model = await loadModelDir(o.model ?? pretrainedModelDir(o.arch));
      const holdout = o.holdout ? readCsvDataset(o.holdout, { labelColumn: o.labelColumn, numClasses: model.outputs[0].shape.at(-1) ?? undefined }) : builtinDigits().holdout;
      const progress = new RoundProgress(o.rounds);
      const coordinator = await startCoordinator({
        runsDir: o.out,
        model,
        architecture: o.model ? 'custom' : o.arch,
        holdout,
        backend: selection.backend,
        transport: 'socket',
        port: o.port,
        host: o.host,
        onEvent: (e) => progress.handle(e),
        config: {
          runId: o.runId ?? newRunId(),
          rounds: o.rounds,
          minSites: o.minSites,
          fraction: o.fraction,
          quorum: o.quorum,
          seed: o.seed,
          roundTimeoutMs: o.roundTimeout * 1000,
          federatedEvaluation: o.federatedEval,
          train: { epochs: o.epochs, batchSize: o.batchSize, learningRate: o.lr, optimizer: o.optimizer, trainable: o.trainable },
        },
      });
      console.log(`coordinator for run ${coordinator.runId} listening on ${coordinator.url}; waiting for ${o.minSites} sites`);
      const stop = () => {
        console.log('stopping after the current round…');
        coordinator.engine.stop();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const report = await coordinator.done;
      if (o.serve) {
        console.log(`run complete; serving the API on ${coordinator.url} (Ctrl-C to stop)`);
        await new Promise<void>((resolve) => process.once('SIGINT', resolve));
      }
      progress.quiet = true;
      await coordinator.close();
      console.log(`run ${report.runId} ${report.status}: accuracy ${pct(report.pretrained?.accuracy).trim()} → ${pct(report.final?.accuracy).trim()}${report.aborted ? ` (${report.aborted})` : ''}`);
      console.log(join(coordinator.runDir, 'report.json'));
      if (report.status !== 'complete') process.exitCode = 1;
    });
}
