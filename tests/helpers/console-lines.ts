import { vi } from 'vitest';

/** The lines `fn` prints with console.log (the console itself stays quiet meanwhile). */
export function consoleLines(fn: () => void): string[] {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  try {
    fn();
  } finally {
    log.mockRestore();
  }
  return lines;
}
