/** A copy of `base` with the value at `path` replaced (`undefined`: the key removed); `base` is left as it was. */
export function withValue(base: unknown, path: Array<string | number>, value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = (Array.isArray(base) ? [...base] : { ...(base as object) }) as Record<string | number, unknown>;
  const [head, ...rest] = path;
  if (rest.length === 0 && value === undefined) delete copy[head];
  else copy[head] = withValue(copy[head], rest, value);
  return copy;
}
