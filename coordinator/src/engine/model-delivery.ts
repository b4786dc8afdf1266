import { modelWeightsPath, type ModelRef } from '@fedtune/shared';
import type { ModelVersions } from './model-versions.ts';
import type { ModelDelivery } from './run-config.ts';

/**
 * The model fields of an instruction for `version`, and the bytes they add to the socket: none when the site
 * holds the version already (`bytes` undefined), the weights ('socket'), or a reference to the published
 * version ('http', its JSON size).
 */
export function instructionModel(delivery: ModelDelivery, versions: ModelVersions, version: number, bytes: Uint8Array | undefined): { fields: { weights?: Uint8Array; modelRef?: ModelRef }; socketBytes: number } {
  if (!bytes) return { fields: {}, socketBytes: 0 };
  if (delivery === 'socket') return { fields: { weights: bytes }, socketBytes: bytes.byteLength };
  const served = versions.publish(version, bytes);
  const modelRef: ModelRef = { path: modelWeightsPath(version), sha256: served.sha256, bytes: bytes.byteLength };
  return { fields: { modelRef }, socketBytes: JSON.stringify(modelRef).length };
}
