/**
 * A chart coordinate rounded to tenths as report.html prints it: `(Math.round(x * 10) / 10).toString()`. A render of
 * report.html prints two coordinates per point of every line (up to 150 points a line, ~2,200 points at 500 sites), and
 * a double's shortest round-trip text is the costliest step of a point; the coordinates of a chart fall on a few
 * thousand tenths (the frame is at most a few hundred units wide), so each tenth's text is computed once, the first
 * time it is printed, and read back after: the same function of the same integer, so the same string.
 */

/** Tenths kept: 0 to 2000.0 units (report.html's widest chart frame is well inside). Beyond, the text is computed each time. */
const MAX_TENTHS = 20_000;

/** The text of `n / 10` for each integer n in 0..MAX_TENTHS once printed ('' until then: no number prints as ''). */
const texts: string[] = new Array<string>(MAX_TENTHS + 1).fill('');

/** `(Math.round(x * 10) / 10).toString()`, byte for byte (−0 prints as "0" either way; NaN and ±Infinity as before). */
export function tenthsText(x: number): string {
  const n = Math.round(x * 10);
  if (!(n >= 0 && n <= MAX_TENTHS)) return (n / 10).toString();
  let text = texts[n];
  if (text === '') texts[n] = text = (n / 10).toString();
  return text;
}
