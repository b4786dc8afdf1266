import type { RunTerms } from '@fedtune/shared';

/**
 * The note a site prints when it accepts a run's terms with `--personal-model DIR` but the run does not
 * personalise: the directory would silently stay empty. Only the terms tell (the site cannot know before).
 * Undefined when there is nothing to say.
 */
export function personalModelNote(terms: Pick<RunTerms, 'siteReport'>, dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  const mode = terms.siteReport?.personalization?.mode ?? 'none';
  if (mode !== 'none') return undefined;
  return `--personal-model: this run does not personalise (personalization.mode none): nothing will be saved in ${dir}`;
}
