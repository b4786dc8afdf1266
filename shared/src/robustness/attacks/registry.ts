import { FedtuneError } from '../../errors.ts';
import type { Attack } from './attack.ts';
import { fgsm } from './fgsm.ts';
import { pgd } from './pgd.ts';
import { fgmL2 } from './fgm-l2.ts';
import { pgdL2 } from './pgd-l2.ts';

export const ATTACKS: readonly Attack[] = [fgsm, pgd, fgmL2, pgdL2];

export function getAttack(name: string): Attack {
  const a = ATTACKS.find((x) => x.name === name);
  if (!a) throw new FedtuneError('config', `unknown attack "${name}" (known: ${ATTACKS.map((x) => x.name).join(', ')})`);
  return a;
}
