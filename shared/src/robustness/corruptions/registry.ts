import { FedtuneError } from '../../errors.ts';
import type { Corruption } from '../corruption.ts';
import { brightness } from './brightness.ts';
import { cannyEdges } from './canny-edges.ts';
import { dottedLine } from './dotted-line.ts';
import { featureNoise } from './feature-noise.ts';
import { fog } from './fog.ts';
import { glassBlur } from './glass-blur.ts';
import { impulseNoise } from './impulse-noise.ts';
import { missingMean, missingZero } from './missing-values.ts';
import { motionBlur } from './motion-blur.ts';
import { rotate } from './rotate.ts';
import { scale } from './scale.ts';
import { scaleShift } from './scale-shift.ts';
import { shear } from './shear.ts';
import { shotNoise } from './shot-noise.ts';
import { spatter } from './spatter.ts';
import { stripe } from './stripe.ts';
import { translate } from './translate.ts';
import { zigzag } from './zigzag.ts';

/** The image corruptions of MNIST-C (Mu & Gilmer 2019), in its order, at fixed severities. */
export const IMAGE_CORRUPTIONS: readonly Corruption[] = [
  shotNoise,
  impulseNoise,
  glassBlur,
  motionBlur,
  shear,
  scale,
  rotate,
  brightness,
  translate,
  stripe,
  fog,
  spatter,
  dottedLine,
  zigzag,
  cannyEdges,
];

/** Corruptions for non-image (tabular) inputs. */
export const TABULAR_CORRUPTIONS: readonly Corruption[] = [featureNoise, missingZero, missingMean, scaleShift];

const byName = new Map([...IMAGE_CORRUPTIONS, ...TABULAR_CORRUPTIONS].map((c) => [c.name, c]));

export function corruptionNames(kind?: Corruption['kind']): string[] {
  return [...byName.values()].filter((c) => !kind || c.kind === kind).map((c) => c.name);
}

export function getCorruption(name: string): Corruption {
  const c = byName.get(name);
  if (!c) throw new FedtuneError('config', `unknown corruption "${name}" (known: ${[...byName.keys()].join(', ')})`);
  return c;
}
