/** Small text helpers for the command line's tables. */
export function pct(x: number | undefined): string {
  return x === undefined || Number.isNaN(x) ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`;
}

export function num(x: number | undefined, digits = 3): string {
  return x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits);
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** An ε for a line of output: at most 4 significant digits (an ε converted between units is a long fraction). */
export function eps(x: number): string {
  return String(Number(x.toPrecision(4)));
}
