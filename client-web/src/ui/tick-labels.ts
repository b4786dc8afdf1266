/**
 * Labels for a chart's y ticks: as few decimals as the magnitude needs (0 from 10 up, 1 from 1, else 2), and more —
 * up to 6 — until ticks of different values never print the same label (losses 1.2194 → 1.0621 printed
 * "1.2", "1.1", "1.1").
 */
export function tickLabels(values: readonly number[]): string[] {
  const largest = Math.max(0, ...values.map((v) => Math.abs(v)));
  let decimals = largest >= 10 ? 0 : largest >= 1 ? 1 : 2;
  for (; decimals < 6; decimals++) {
    const labels = values.map((v) => v.toFixed(decimals));
    if (values.every((v, i) => values.every((w, j) => v === w || labels[i] !== labels[j]))) return labels;
  }
  return values.map((v) => v.toFixed(decimals));
}
