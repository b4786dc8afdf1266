/**
 * Clips a string that came from a peer before it goes into an error message, a log, the report or a reply:
 * at most `max` UTF-16 units of it are kept (never half a surrogate pair) and the rest is counted, so a
 * 10 MB event name costs a few dozen bytes wherever it is quoted.
 */
export function clipText(text: string, max = 120): string {
  if (text.length <= max) return text;
  let end = max;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}

/** `clipText` of any value, quoted as JSON so control characters and quotes in it are escaped. */
export function quoteClipped(value: unknown, max = 120): string {
  const text = typeof value === 'string' ? value : describeValue(value);
  return JSON.stringify(clipText(text, max));
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}
