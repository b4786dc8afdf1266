import { FedtuneError } from '@fedtune/shared';

/**
 * Refuses `fedtune client --ca FILE` where the CA would verify nothing (FedtuneError 'config', one line): a
 * private CA checks a TLS certificate, so it needs an https:// coordinator among --server's (a cluster may mix
 * them: the CA then verifies its https:// nodes), and --check-only connects to nothing.
 */
export function refuseUnusedCa(ca: string | undefined, servers: string[] | undefined, checkOnly: boolean): void {
  if (ca === undefined) return;
  if (checkOnly) throw new FedtuneError('config', '--ca has no effect with --check-only: it checks the data and exits without connecting');
  if (!servers || servers.some((url) => url.startsWith('https://'))) return;
  throw new FedtuneError('config', servers.length === 1
    ? `--ca is for https:// servers: ${servers[0]} is http://, so the CA would verify nothing (give the https:// URL, or drop --ca)`
    : `--ca is for https:// servers: every --server is http:// (${servers.join(', ')}), so the CA would verify nothing (give the https:// URLs, or drop --ca)`);
}
