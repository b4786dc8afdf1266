import { FedtuneError, updateEncodingOf, type UpdateEncoding } from '@fedtune/shared';
import type { RoundRecord } from '@fedtune/shared';
import type { RunConfig } from './run-config.ts';

/**
 * The run's update encoding (run config `train.updateEncoding`, docs/performance.md#compressed-updates) on
 * the coordinator's side: which combinations it refuses, and what a round records of it.
 */

/** Secure aggregation never sends a plain update (sites mask a fixed-point delta): a compressed encoding would be ignored, so it is refused. */
export function checkUpdateEncodingConfig(config: Pick<RunConfig, 'train' | 'secureAggregation'>): void {
  const encoding = updateEncodingOf(config.train);
  if (encoding !== 'float32' && config.secureAggregation) {
    throw new FedtuneError('config', `update encoding "${encoding}" compresses plain updates, which secure aggregation does not send: use --update-encoding float32 with secure aggregation`);
  }
}

/**
 * What a round's accepted updates weighed on the wire against raw float32 (the weights codec's encoding of
 * the same model): recorded for compressed runs (RoundRecord.updateEncoding), absent for float32 runs and
 * rounds with no accepted update.
 */
export function updateEncodingRecord(train: { updateEncoding?: UpdateEncoding }, acceptedBytes: readonly number[], float32Bytes: number): RoundRecord['updateEncoding'] {
  const encoding = updateEncodingOf(train);
  if (encoding === 'float32' || acceptedBytes.length === 0) return undefined;
  const bytesPerUpdate = acceptedBytes.reduce((n, b) => n + b, 0) / acceptedBytes.length;
  return { encoding, bytesPerUpdate, float32BytesPerUpdate: float32Bytes, ratio: bytesPerUpdate / float32Bytes };
}
