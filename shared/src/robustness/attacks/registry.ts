import { FedtuneError } from '../../errors.ts';
import type { Attack } from './attack.ts';
import { fgsm } from './fgsm.ts';
import { pgd } from './pgd.ts';

export const ATTACKS: readonly Attack[] = [fgsm, pgd];

export function getAttack(name: string): Attack {
  const a = ATTACKS.find((x) => x.name === name);
  if (!a) throw new FedtuneError('config', `unknown attack "${name}" (known: ${ATTACKS.map((x) => x.name).join(', ')})`);
  return a;
}
