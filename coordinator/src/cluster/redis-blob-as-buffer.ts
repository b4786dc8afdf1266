import type { RESP_TYPES } from 'redis';

/**
 * `redis`' RESP_TYPES.BLOB_STRING ('$'), so that modules which only map replies to Buffers need not import the
 * `redis` package: it is loaded only when a cluster node connects (connectClusterRedis), never by a coordinator
 * started without `--cluster` (docs/performance.md). tests/startup/redis-loaded-lazily.test.ts checks the value.
 */
export const RESP_BLOB_STRING = 36 as (typeof RESP_TYPES)['BLOB_STRING'];

/** The type mapping that reads Redis blob strings as Buffers (withTypeMapping). */
export const BLOB_AS_BUFFER = { [RESP_BLOB_STRING]: Buffer } as const;
