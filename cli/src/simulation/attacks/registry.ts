import { FedtuneError } from '@fedtune/shared';
import { alie } from './alie.ts';
import type { Attack } from './attack.ts';
import { backdoor } from './backdoor.ts';
import { freeRider } from './free-rider.ts';
import { hugeScale } from './huge-scale.ts';
import { gaussian } from './gaussian.ts';
import { ipm } from './ipm.ts';
import { labelFlip } from './label-flip.ts';
import { nanUpdate } from './nan-update.ts';
import { scaling } from './scaling.ts';
import { signFlip } from './sign-flip.ts';
import { zerosMaxCount } from './zeros-max-count.ts';

const all: Attack[] = [labelFlip, signFlip, gaussian, scaling, alie, ipm, nanUpdate, freeRider, backdoor, zerosMaxCount, hugeScale];

/** Every attack by its stable command-line name. */
export const attacks: Record<string, Attack> = Object.fromEntries(all.map((a) => [a.name, a]));
export const attackNames: readonly string[] = all.map((a) => a.name);

export function getAttack(name: string): Attack {
  const a = Object.hasOwn(attacks, name) ? attacks[name] : undefined;
  if (!a) throw new FedtuneError('config', `unknown attack "${name}" (known: ${attackNames.join(', ')})`);
  return a;
}

/** Merges an attack's defaults with given options, rejecting unknown keys and non-numbers. */
export function attackOptions(attack: Attack, given: Record<string, unknown> = {}): Record<string, number> {
  const out = { ...attack.defaults };
  for (const [k, v] of Object.entries(given)) {
    if (!Object.hasOwn(attack.defaults, k)) throw new FedtuneError('config', `${attack.name}: unknown option "${k}" (known: ${Object.keys(attack.defaults).join(', ') || 'none'})`);
    const n = Number(v);
    if (!Number.isFinite(n)) throw new FedtuneError('config', `${attack.name}: option ${k} must be a number, got ${String(v)}`);
    out[k] = n;
  }
  return out;
}
