import { createServer } from 'node:net';

/**
 * Binds `host:port` for a moment and lets it go: rejects with the listen error (EADDRINUSE, EACCES,
 * EADDRNOTAVAIL — describeError's one line each) when the coordinator could not bind it. The coordinator
 * command calls it before it creates anything on disk (the runs directory, fedtune.db, the identity key, the
 * log file), which its server needs before it listens. Port 0 picks a free port: nothing to check.
 */
export async function refuseUnbindablePort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
