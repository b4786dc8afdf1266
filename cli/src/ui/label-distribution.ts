/** Prints each site's label counts as a small table (one row per site, one column per class). */
export function printLabelDistribution(labelCounts: Record<string, number[]>): void {
  const sites = Object.keys(labelCounts);
  if (sites.length === 0) return;
  const classes = labelCounts[sites[0]].length;
  const width = Math.max(5, ...sites.map((s) => s.length));
  console.log(`label distribution per site (examples of each class):`);
  console.log(`${'site'.padEnd(width)} ${Array.from({ length: classes }, (_, c) => String(c).padStart(5)).join('')}  total`);
  for (const site of sites) {
    const counts = labelCounts[site];
    console.log(`${site.padEnd(width)} ${counts.map((n) => String(n).padStart(5)).join('')}  ${String(counts.reduce((a, b) => a + b, 0)).padStart(5)}`);
  }
}
