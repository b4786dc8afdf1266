/** What `bench/load.ts` needs of a size's result to tell whether it measured anything. */
export interface LoadOutcome {
  sites: number;
  rounds: number;
  roundsCompleted: number;
  status: string;
  aborted?: string;
}

/**
 * Why a load run measured nothing worth keeping, one line per failed size (empty when every size completed
 * all its rounds). The bench prints them and exits non-zero: a size whose sites never joined must not pass
 * as a result with NaN in it.
 */
export function loadFailures(results: readonly LoadOutcome[]): string[] {
  const lines: string[] = [];
  for (const r of results) {
    if (r.status === 'complete' && r.roundsCompleted === r.rounds && !r.aborted) continue;
    const why = r.aborted ? `: ${r.aborted.replace(/\s+/g, ' ').slice(0, 300)}` : '';
    lines.push(`bench:load: ${r.sites} sites: ${r.roundsCompleted} of ${r.rounds} rounds, run ${r.status}${why}`);
  }
  return lines;
}
