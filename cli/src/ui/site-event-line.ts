import { oneLine, type SiteEvent } from '@fedtune/shared';
import { num, pct } from './format.ts';
import { personalModelNote } from './personal-model-note.ts';
import { siteReportLine } from './site-report-table.ts';

/** The most characters of one coordinator-supplied string (a run id, a reason, a class name) on a site's console line. */
export const PEER_TEXT_MAX = 300;

/** A coordinator-supplied string for the site operator's terminal: one line, no control characters (ANSI/OSC escapes, CR, LF), clipped. */
export function peerText(text: unknown, max = PEER_TEXT_MAX): string {
  return oneLine(String(text), max);
}

/** "labels numbered by the run's classes…": the run's class names (the coordinator's strings), each one line of at most 40 characters. */
export function classesAlignedLine(classNames: string[], missing: string[]): string {
  const order = `labels numbered by the run's classes: ${classNames.map((n, i) => `${i}=${peerText(n, 40)}`).join(', ')}`;
  return missing.length ? `${order}; warning: this site has no example of ${missing.map((n) => peerText(n, 40)).join(', ')}` : order;
}

/**
 * The console lines `fedtune client` prints for a site event (not the privacy ledger's, which the command
 * words itself). Every string a coordinator could have chosen (run id, terms fields, class names, codes and
 * reasons) goes through `peerText`: a hostile coordinator cannot recolour, retitle or forge lines of the
 * operator's terminal.
 */
export function siteEventLines(e: SiteEvent, context: { server: string[]; personalModel?: string }): string[] {
  const servers = context.server.join(', ');
  switch (e.type) {
    case 'welcome':
      return [`joined run ${peerText(e.runId)}`];
    case 'terms': {
      const note = personalModelNote(e.terms.terms, context.personalModel);
      return [`accepted the run's terms ${peerText(e.terms.hash.slice(0, 16))}… (coordinator ${peerText(e.terms.terms.coordinator.slice(0, 16))}…)`, ...(note ? [note] : [])];
    }
    case 'classes-aligned':
      return [classesAlignedLine(e.classNames, e.missing)];
    case 'refused-terms':
      return [e.round === undefined ? `refused the run's terms: ${peerText(e.reason)}` : `left the run: ${peerText(e.reason)}`];
    case 'fit-done':
      return [`round ${e.round}: trained on ${e.numExamples} examples, loss ${num(e.loss)}, accuracy ${pct(e.accuracy).trim()}, ${(e.durationMs / 1000).toFixed(1)} s`];
    case 'evaluate-done':
      return [`round ${e.round}: global model on the local test split: accuracy ${pct(e.metrics.accuracy).trim()}`];
    case 'site-report-done':
      return [siteReportLine(e.result, context.personalModel)];
    // A cluster node above its share sends the site on (node_busy): one calm line, the next node at once.
    case 'waiting-for-coordinator':
      return [`waiting for the coordinator at ${servers} (${peerText(e.reason)}); retrying every ${(e.retryMs / 1000).toFixed(1)} s for up to ${(e.windowMs / 1000).toFixed(0)} s`];
    case 'reconnecting':
      return [e.delayMs === 0 ? 'connecting to the next coordinator node of the cluster' : `cannot reach the coordinator at ${servers} (${peerText(e.reason)}); retrying in ${(e.delayMs / 1000).toFixed(1)} s (attempt ${e.attempt})`];
    case 'rejected':
      return [e.code === 'node_busy' ? `coordinator node busy: ${peerText(e.reason)}` : `rejected by the coordinator: ${peerText(e.code, 60)} — ${peerText(e.reason)}`];
    case 'failed':
      return [e.round === 0 ? `this site cannot train the run's model: ${peerText(e.reason)}` : `round ${e.round} failed here: ${peerText(e.code, 60)} — ${peerText(e.reason)}`];
    default:
      return [];
  }
}
