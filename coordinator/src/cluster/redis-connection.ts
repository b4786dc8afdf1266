import type { createClient } from 'redis';
import { FedtuneError } from '@fedtune/shared';

export type ClusterRedis = ReturnType<typeof createClient>;

/** A Redis URL fit for a log line: no user or password. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)[^@/]*@/, '$1').slice(0, 200);
}

export interface RedisConnectionEvents {
  /** The connection was lost (told once per outage). */
  onLost(reason: string): void;
  /** The connection is back after an outage of `outageMs`. */
  onRestored(outageMs: number): void;
}

/**
 * Connects to the cluster's Redis. It reconnects by itself forever (every 100 ms growing to 1 s); each
 * outage is told once when it starts and once when it ends. The first connection must succeed within
 * `connectTimeoutMs`, else a FedtuneError('transport') says which Redis could not be reached.
 */
export async function connectClusterRedis(url: string, events: RedisConnectionEvents, connectTimeoutMs = 10_000): Promise<ClusterRedis> {
  // Loaded here, not at module load: a coordinator without --cluster never evaluates `redis` (docs/performance.md).
  const { createClient } = await import('redis');
  const client = createClient({ url, socket: { reconnectStrategy: (retries: number) => Math.min(100 * (retries + 1), 1_000), connectTimeout: connectTimeoutMs } });
  let connected = false;
  let lostAt: number | undefined;
  client.on('error', (err: Error) => {
    if (!connected || lostAt !== undefined) return;
    lostAt = Date.now();
    events.onLost(String(err?.message ?? err).slice(0, 300));
  });
  client.on('ready', () => {
    if (lostAt === undefined) return;
    const outage = Date.now() - lostAt;
    lostAt = undefined;
    events.onRestored(outage);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      }),
    ]);
  } catch (err) {
    client.destroy?.();
    throw new FedtuneError('transport', `cannot reach Redis at ${redactRedisUrl(url)}: ${String((err as Error)?.message ?? err).slice(0, 300)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  return client;
}
