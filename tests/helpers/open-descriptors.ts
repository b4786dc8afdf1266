import { readdirSync, readlinkSync } from 'node:fs';

/** This process's open descriptors on `path` (Linux: /proc/self/fd). */
export function descriptorsOn(path: string): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${name}`) === path) fds.push(Number(name));
    } catch {
      // the descriptor readdir itself used, closed by now
    }
  }
  return fds;
}
