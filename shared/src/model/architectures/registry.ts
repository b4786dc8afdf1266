import { FedtuneError } from '../../errors.ts';
import type { Architecture } from './architecture.ts';
import { cnn } from './cnn.ts';
import { cnnBn } from './cnn-bn.ts';
import { cnnDense } from './cnn-dense.ts';
import { cnnWide } from './cnn-wide.ts';
import { mlp } from './mlp.ts';
import { textCnn } from './text-cnn.ts';

export const architectures: Record<string, Architecture> = { [mlp.name]: mlp, [cnn.name]: cnn, [cnnBn.name]: cnnBn, [cnnDense.name]: cnnDense, [cnnWide.name]: cnnWide, [textCnn.name]: textCnn };

export function getArchitecture(name: string): Architecture {
  const a = Object.hasOwn(architectures, name) ? architectures[name] : undefined;
  if (!a) throw new FedtuneError('config', `unknown architecture "${name}" (known: ${Object.keys(architectures).join(', ')})`);
  return a;
}
