import { randomBytes } from 'node:crypto';

/** A fresh run id: `run-YYYYMMDD-HHMMSS-xxxxxx` (UTC time, 3 random bytes). */
export function newRunId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}
