import { z } from 'zod';
import { modelWeightsPath, type ModelRef } from '@fedtune/shared';
import type { ModelVersions } from './model-versions.ts';

/**
 * How a fit or evaluate instruction carries the global model (run config `modelDelivery`,
 * docs/operations.md#model-delivery-over-http): 'socket' the bytes in the instruction; 'http' a ModelRef (the
 * version's path and sha-256) and the site GETs the bytes from /api/v1/models/:version/weights, so a CDN
 * or reverse proxy can carry them instead of every socket.
 */
export const ModelDelivery = z.enum(['socket', 'http']);
export type ModelDelivery = z.output<typeof ModelDelivery>;

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
