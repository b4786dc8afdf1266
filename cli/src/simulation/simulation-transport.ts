import { readFileSync } from 'node:fs';
import { FedtuneError } from '@fedtune/shared';

/** What `fedtune simulate --transport` takes: 'auto' is socket.io unless the sites need more open files than the process may open. */
export type SimulationTransportChoice = 'socket' | 'memory' | 'auto';

/** A simulated site over socket.io on loopback holds two descriptors in this process: its client end and the coordinator's. */
export const SOCKET_DESCRIPTORS_PER_SITE = 2;
/** Descriptors kept free for everything else: the listener, model and run files, the database, worker threads, logs. */
export const DESCRIPTOR_RESERVE = 512;

/** The soft limit on open files of this process (`ulimit -n`), from /proc/self/limits; undefined where that cannot be read (not Linux) or says unlimited. */
export function openFileLimit(readLimits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | undefined {
  let text: string;
  try {
    text = readLimits();
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  return m && m[1] !== 'unlimited' ? Number(m[1]) : undefined;
}

/**
 * The transport a simulation of `sites` sites runs on. Over socket.io every site costs this process
 * SOCKET_DESCRIPTORS_PER_SITE open files: past the limit, connections fail with EMFILE and the run would wait for
 * sites that can never join. 'auto' takes the in-memory network then, and says why in `note`; an explicit
 * 'socket' is refused with what to change.
 */
export function resolveSimulationTransport(requested: SimulationTransportChoice, sites: number, limit: number | null = openFileLimit() ?? null): { transport: 'socket' | 'memory'; note?: string } {
  if (requested === 'memory') return { transport: 'memory' };
  const needed = sites * SOCKET_DESCRIPTORS_PER_SITE + DESCRIPTOR_RESERVE;
  // null: the limit is not known here (not Linux): socket.io as asked.
  if (limit === null || needed <= limit) return { transport: 'socket' };
  const why = `${sites} sites over socket.io need about ${needed} open files in this process and it may open ${limit} (ulimit -n)`;
  if (requested === 'socket') throw new FedtuneError('config', `${why}: raise the limit (ulimit -n ${Math.ceil((needed * 1.25) / 1000) * 1000}) or use --transport memory`);
  return { transport: 'memory', note: `${why}: simulating over the in-memory network instead (the same coordinator and site code; --transport socket after raising the limit)` };
}
