/** What a sweep maximises: clean accuracy, robust (PGD) accuracy, or their mean. */
export const OBJECTIVES = ['clean', 'robust', 'balanced'] as const;
export type Objective = (typeof OBJECTIVES)[number];

/** A trial's score under `objective`, or null when the metric it needs is missing (a failed trial). */
export function objectiveScore(objective: Objective, metrics: { clean: number | null; robust: number | null }): number | null {
  const { clean, robust } = metrics;
  if (objective === 'clean') return clean;
  if (objective === 'robust') return robust;
  return clean === null || robust === null ? null : (clean + robust) / 2;
}
