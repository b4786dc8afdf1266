import { oneLine } from './one-line.ts';

/**
 * JSON.parse's complaint about `cause`, for the one line of a "not valid JSON" error: Node quotes the start of
 * the text it failed on (`Unexpected token 'h', "{\n  hello…" is not valid JSON`), newlines and all, so every
 * run of control characters becomes one space and the whole is clipped to `max` characters.
 */
export function jsonSyntaxMessage(cause: unknown, max = 200): string {
  return oneLine(cause instanceof Error ? cause.message : String(cause), max);
}
