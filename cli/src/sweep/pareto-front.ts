/** A trial as the Pareto front sees it: two accuracies, both to maximise. */
export interface ParetoPoint {
  trial: number;
  clean: number;
  robust: number;
}

/** Whether `a` dominates `b`: at least as good on both, strictly better on one. */
export function dominates(a: ParetoPoint, b: ParetoPoint): boolean {
  return a.clean >= b.clean && a.robust >= b.robust && (a.clean > b.clean || a.robust > b.robust);
}

/**
 * The Pareto front of clean vs robust accuracy: the points no other point dominates. Exact (no tolerance);
 * points with identical accuracies dominate neither one another, so they are on the front together or off
 * it together. Returned by clean accuracy descending, then robust descending, then trial number.
 */
export function paretoFront<T extends ParetoPoint>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => b.clean - a.clean || b.robust - a.robust || a.trial - b.trial);
  const front: T[] = [];
  // Sweep in clean-descending order: a point is on the front iff its robust accuracy beats every point
  // before it with a strictly higher clean accuracy, and equals-or-beats those with the same clean accuracy.
  let bestRobustAbove = -Infinity;
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j < sorted.length && sorted[j].clean === sorted[i].clean) j++;
    const groupBest = sorted[i].robust;
    for (let k = i; k < j; k++) if (sorted[k].robust === groupBest && sorted[k].robust > bestRobustAbove) front.push(sorted[k]);
    bestRobustAbove = Math.max(bestRobustAbove, groupBest);
    i = j;
  }
  return front;
}
