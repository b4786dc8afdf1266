import { Command } from 'commander';
import { describeBackend, selectNodeBackend } from '@fedtune/shared/node';
import { runSimulation } from '../simulation/run-simulation.ts';
import { RoundProgress } from '../ui/round-progress.ts';
import { pct } from '../ui/format.ts';
import { choiceOption, dpClipOption, dpFromFlags, floatOption, intOption, keyValueOption, trainableOption } from './options.ts';
import { InvalidArgumentError } from 'commander';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROBUST_PRESET, type RobustnessReport } from '@fedtune/shared';
import type { SimulationOptions } from '../simulation/run-simulation.ts';

function robustnessWhen(value: string): 'final' | 'every-round' | 'never' | number {
  if (value === 'final' || value === 'every-round' || value === 'never') return value;
  const n = Number(value);
  if (Number.isInteger(n) && n >= 1) return n;
  throw new InvalidArgumentError('robustness must be final, every-round, never or a number of rounds');
}
import { printLabelDistribution } from '../ui/label-distribution.ts';

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('run a whole federation on this machine: a coordinator and N sites on the built-in digits task')
    .option('--sites <n>', 'number of sites', intOption('sites', 1), 8)
    .option('--rounds <n>', 'number of rounds', intOption('rounds', 1), 10)
    .option('--seed <n>', 'seed for the partition, sampling and training', intOption('seed'), 42)
    .option('--out <dir>', 'directory for runs (the report lands at DIR/<run-id>/report.json)', 'runs')
    .option('--transport <kind>', 'socket (real socket.io on loopback) or memory', choiceOption('transport', ['socket', 'memory'] as const), 'socket')
    .option('--partition <spec>', 'iid, dirichlet:ALPHA, shards:K or quantity:ALPHA', 'dirichlet:0.5')
    .option('--no-feature-shift', "don't render each site's images through its own scanner profile")
    .option('--strategy <name>', 'aggregation strategy (fedavg, fedavgm, fedprox, fedadam, fedyogi, fedadagrad, median, trimmed-mean, krum, multi-krum, bulyan, norm-bound, centered-clipping)', 'fedavg')
    .option('--strategy-opt <key=value>', 'a strategy option (repeatable), e.g. f=2', keyValueOption, {})
    .option('--attack <name>', 'attack run by the malicious sites (label-flip, sign-flip, gaussian, scaling, alie, ipm, nan, free-rider, backdoor, zeros-max-count, huge-scale)')
    .option('--attack-opt <key=value>', 'an attack option (repeatable), e.g. sigma=2', keyValueOption, {})
    .option('--malicious <share>', 'share of sites that are malicious', floatOption('malicious', 0, 0.99), 0.2)
    .option('--max-update-norm <x>', 'reject updates farther than this (L2) from the global model', floatOption('max-update-norm', 1e-9, 1e12))
    .option('--arch <name>', 'model architecture (mlp, cnn)', 'mlp')
    .option('--fraction <x>', 'share of sites sampled per round', floatOption('fraction', 0.001, 1), 1)
    .option('--quorum <x>', 'share of the selected sites whose results must be accepted', floatOption('quorum', 0.001, 1), 0.5)
    .option('--epochs <n>', 'local epochs per round', intOption('epochs', 1), 1)
    .option('--batch-size <n>', 'local batch size', intOption('batch-size', 1), 32)
    .option('--lr <x>', 'local learning rate', floatOption('lr', 1e-9, 10), 0.001)
    .option('--optimizer <name>', 'sgd, momentum or adam', choiceOption('optimizer', ['sgd', 'momentum', 'adam'] as const), 'adam')
    .option('--trainable <scope>', 'which layers train: all, head, or the last K layers', trainableOption, 'all')
    .option('--federated-eval <when>', 'never, final or every-round', choiceOption('federated-eval', ['never', 'final', 'every-round'] as const), 'final')
    .option('--robustness <when>', 'robustness evaluation of the global model: final, every-round, never, or every K rounds', robustnessWhen, 'final')
    .option('--robustness-examples <n>', 'holdout examples for the robustness evaluation', intOption('robustness-examples', 1))
    .option('--dp-noise <z>', 'client-level DP: noise multiplier z of DP-FedAvg', floatOption('dp-noise', 0, 1000))
    .option('--dp-clip <c>', 'client-level DP: clip norm C, or adaptive:QUANTILE', dpClipOption)
    .option('--dp-delta <d>', 'δ of the reported (ε, δ)', floatOption('dp-delta', 1e-12, 0.5))
    .option('--dp-sgd-clip <c>', 'record-level DP-SGD inside each site: per-example clip norm C', floatOption('dp-sgd-clip', 1e-9, 1e9))
    .option('--dp-sgd-noise <z>', 'record-level DP-SGD inside each site: noise multiplier z (ε per site in the report, at --dp-delta)', floatOption('dp-sgd-noise', 0, 1000))
    .option('--secure-aggregation', 'secure aggregation: the coordinator learns only the sum of the sites\' clipped deltas (strategy fedavg or another of the mean)')
    .option('--secagg-clip <c>', 'secure aggregation: L2 clip norm of each site\'s delta before masking', floatOption('secagg-clip', 1e-9, 1e9), 1)
    .option('--secagg-threshold <t>', 'secure aggregation: shares needed to unmask (default and minimum: a strict majority)', intOption('secagg-threshold', 2))
    .option('--preset <name>', 'robust: the same federation fine-tuned plainly and with adversarial training, side by side', choiceOption('preset', ['robust'] as const))
    .option('--backend <name>', 'tfjs backend: tfjs-node-gpu, tfjs-node, wasm or cpu (default: fastest available)')
    .option('--run-id <id>', 'run id (default: generated)')
    .action(async (o) => {
      const started = Date.now();
      const selection = await selectNodeBackend(o.backend);
      console.log(describeBackend(selection));
      console.log(`simulating ${o.sites} sites × ${o.rounds} rounds over ${o.transport === 'socket' ? 'socket.io on loopback' : 'the in-memory network'} (partition ${o.partition}, seed ${o.seed})`);
      const progress = new RoundProgress(o.rounds);
      const base: SimulationOptions = {
        sites: o.sites,
        rounds: o.rounds,
        seed: o.seed,
        out: o.out,
        transport: o.transport,
        partition: o.partition,
        featureShift: o.featureShift,
        strategy: o.strategy,
        strategyOptions: o.strategyOpt,
        attack: o.attack,
        attackOptions: o.attackOpt,
        malicious: o.malicious,
        maxUpdateNorm: o.maxUpdateNorm,
        architecture: o.arch,
        fraction: o.fraction,
        quorum: o.quorum,
        epochs: o.epochs,
        batchSize: o.batchSize,
        learningRate: o.lr,
        optimizer: o.optimizer,
        trainable: o.trainable,
        federatedEvaluation: o.federatedEval,
        backend: o.backend,
        runId: o.runId,
        onListening: (url) => console.log(`coordinator listening on ${url} (live dashboard: ${url}/, API: ${url}/api/runs)`),
        onPlan: (plan) => {
          printLabelDistribution(plan.labelCounts);
          if (plan.malicious.length) console.log(`malicious sites: ${plan.malicious.join(', ')}`);
        },
        onEngineEvent: (e) => progress.handle(e),
        dp: dpFromFlags(o),
        ...dpSgdFromFlags(o),
        ...(o.secureAggregation ? { secureAggregation: { clip: o.secaggClip, ...(o.secaggThreshold ? { threshold: o.secaggThreshold } : {}) } } : {}),
        robustness: { when: o.robustness, ...(o.robustnessExamples ? { examples: o.robustnessExamples } : {}) },
      };
      if (o.preset === 'robust') {
        await robustPreset(base, o.out);
        return;
      }
      const result = await runSimulation(base);
      const { report } = result;
      const attack = report.simulation?.attack as { name: string; malicious: string[] } | undefined;
      if (attack) console.log(`attack: ${attack.name} by ${attack.malicious.join(', ')}`);
      const probes = report.final?.probes;
      if (probes) for (const [name, value] of Object.entries(probes)) console.log(`${name}: ${pct(value).trim()}`);
      if (report.status !== 'complete') {
        console.error(`run ${report.runId} ${report.status}: ${report.aborted ?? ''}`);
        process.exitCode = 1;
      } else {
        console.log(
          `done in ${((Date.now() - started) / 1000).toFixed(1)} s: accuracy ${pct(report.pretrained?.accuracy).trim()} (pretrained) → ${pct(report.final?.accuracy).trim()} after ${report.rounds.length} rounds`,
        );
        console.log(`global model: ${result.runDir}/${report.final?.modelDir}`);
      }
      console.log(result.reportPath);
    });
}

/** `--dp-sgd-clip C --dp-sgd-noise Z` → the sites' DP-SGD training config (both flags or neither). */
function dpSgdFromFlags(o: { dpSgdClip?: number; dpSgdNoise?: number; dpDelta?: number }): Pick<SimulationOptions, 'trainExtras'> {
  if (o.dpSgdClip === undefined && o.dpSgdNoise === undefined) return {};
  if (o.dpSgdClip === undefined || o.dpSgdNoise === undefined) throw new InvalidArgumentError('--dp-sgd-clip and --dp-sgd-noise go together');
  return { trainExtras: { dpSgd: { clip: o.dpSgdClip, noiseMultiplier: o.dpSgdNoise, ...(o.dpDelta !== undefined ? { delta: o.dpDelta } : {}) } } };
}

/** `--preset robust`: the same federation (same sites, seed and rounds) fine-tuned plainly and adversarially. */
async function robustPreset(base: SimulationOptions, out: string): Promise<void> {
  const sides: Array<{ name: 'plain' | 'adversarial'; report?: RobustnessReport; accuracy?: number; reportPath?: string }> = [{ name: 'plain' }, { name: 'adversarial' }];
  for (const side of sides) {
    console.log(`\n=== ${side.name} fine-tuning${side.name === 'adversarial' ? ' (PGD-5 at ε = 0.1 on half of each batch)' : ''} ===`);
    const r = await runSimulation({ ...base, trainExtras: { ...base.trainExtras, ...ROBUST_PRESET[side.name] }, robustness: { ...base.robustness, when: 'final' } });
    side.report = r.report.finalRobustness;
    side.accuracy = r.report.final?.accuracy;
    side.reportPath = r.reportPath;
  }
  const row = (label: string, f: (r: RobustnessReport) => number | null | undefined) =>
    console.log(`${label.padEnd(26)}${sides.map((s) => pct(s.report ? (f(s.report) ?? undefined) : undefined).padStart(14)).join('')}`);
  console.log(`\n${''.padEnd(26)}${sides.map((s) => s.name.padStart(14)).join('')}`);
  row('clean accuracy', (r) => r.clean.accuracy);
  row('ECE (lower is better)', (r) => r.clean.ece);
  for (const n of sides[0].report?.noise ?? []) row(`gaussian noise σ=${n.sigma}`, (r) => r.noise.find((x) => x.sigma === n.sigma)?.accuracy);
  row('corruptions (mean)', (r) => r.corruptionMean);
  for (const a of sides[0].report?.fgsm ?? []) row(`FGSM ε=${a.eps}`, (r) => r.fgsm.find((x) => x.eps === a.eps)?.accuracy);
  for (const a of sides[0].report?.pgd ?? []) row(`PGD ε=${a.eps}`, (r) => r.pgd.find((x) => x.eps === a.eps)?.accuracy);
  mkdirSync(out, { recursive: true });
  const path = join(out, 'robust-comparison.json');
  writeFileSync(path, JSON.stringify({ preset: 'robust', sides: sides.map((s) => ({ name: s.name, accuracy: s.accuracy, robustness: s.report, reportPath: s.reportPath })) }, null, 2));
  console.log(path);
}
