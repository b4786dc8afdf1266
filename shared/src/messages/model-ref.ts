import { z } from 'zod';

/**
 * Model bytes delivered over HTTP (run config `modelDelivery: 'http'`, docs/operations.md#model-delivery-over-http):
 * instead of the weights, a fit or evaluate instruction carries where to GET them on the coordinator the site
 * is connected to, and their sha-256 (also the response's strong ETag). The site refuses bytes whose hash
 * differs ('model_integrity'). The path is fixed in shape, so an instruction cannot send a site elsewhere.
 */
export const MODEL_WEIGHTS_PATH = /^\/api\/v1\/models\/(0|[1-9][0-9]{0,9})\/weights$/;

export function modelWeightsPath(version: number): string {
  return `/api/v1/models/${version}/weights`;
}

export const ModelRef = z.object({
  path: z.string().max(64).regex(MODEL_WEIGHTS_PATH),
  sha256: z.string().max(1024).regex(/^[0-9a-f]{64}$/, 'expected a sha-256 hash as 64 lowercase hex digits'),
  /** Size of the body, so a site can refuse a larger one before reading it all. */
  bytes: z.number().int().min(8).max(2 ** 32),
});
export type ModelRef = z.output<typeof ModelRef>;
