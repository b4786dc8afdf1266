import { Command, InvalidArgumentError } from 'commander';
import { computeEpsilon, DEFAULT_DP_DELTA, type RdpConversion } from '@fedtune/shared';
import { choiceOption, floatOption, intOption } from './options.ts';

function openUnitInterval(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new InvalidArgumentError(`${name} must be a number in (0, 1), e.g. 1e-5`);
    return n;
  };
}

/** `fedtune dp-epsilon`: ε(δ) of the sampled Gaussian mechanism, to plan a privacy budget before a run. */
export function dpEpsilonCommand(): Command {
  return new Command('dp-epsilon')
    .description('print ε(δ) for T steps of the sampled Gaussian mechanism (RDP accountant), to plan a privacy budget')
    .requiredOption('--sampling-rate <q>', 'required: fraction of sites (client-level DP) or of examples (DP-SGD) sampled per step, in [0, 1]', floatOption('sampling-rate', 0, 1))
    .requiredOption('--noise <z>', 'required: noise multiplier z: noise std / clip norm, ≥ 0', floatOption('noise', 0, 1e6))
    .requiredOption('--steps <t>', 'required: number of steps (rounds for client-level DP)', intOption('steps', 0))
    // δ's default is the run config's (a run with client-level DP and no δ of its own is accounted at it).
    .option('--delta <d>', 'target δ in (0, 1), below 1/number of individuals', openUnitInterval('delta'), DEFAULT_DP_DELTA)
    .option('--conversion <name>', 'RDP → (ε, δ) conversion: improved (Balle et al. 2020, as Opacus) or classic (Mironov 2017)', choiceOption('conversion', ['improved', 'classic'] as const), 'improved')
    .option('--json', 'print one JSON object')
    .action((o: { samplingRate: number; noise: number; steps: number; delta: number; conversion: RdpConversion; json?: boolean }) => {
      const r = computeEpsilon({ samplingRate: o.samplingRate, noiseMultiplier: o.noise, steps: o.steps, delta: o.delta, conversion: o.conversion });
      if (o.json) {
        const epsilon = Number.isFinite(r.epsilon) ? r.epsilon : null;
        const order = Number.isFinite(r.order) ? r.order : null;
        console.log(JSON.stringify({ epsilon, delta: o.delta, order, samplingRate: o.samplingRate, noiseMultiplier: o.noise, steps: o.steps, conversion: o.conversion }));
        return;
      }
      const eps = Number.isFinite(r.epsilon) ? r.epsilon.toFixed(4) : '∞ (no privacy: the noise multiplier is 0)';
      console.log(`ε = ${eps} at δ = ${o.delta < 1e-3 ? o.delta.toExponential() : o.delta}${Number.isFinite(r.order) ? ` (best RDP order ${r.order})` : ''}`);
      console.log(`sampled Gaussian mechanism: q = ${o.samplingRate}, z = ${o.noise}, ${o.steps} steps; ${o.conversion} RDP conversion`);
    });
}
