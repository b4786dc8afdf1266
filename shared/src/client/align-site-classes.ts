import { alignClassNames, alignLabels, type ClassAlignment } from '../data/align-class-labels.ts';
import type { Dataset, Splits } from '../data/dataset.ts';
import type { TextDataset } from '../data/text-dataset.ts';
import type { TextSplits } from './text-site-data.ts';

/** A site's own class numbering: index → name as its loader made it, and the file or folder it came from. */
export interface SiteClasses {
  names: readonly string[];
  source: string;
}

/**
 * The site's class numbering to align with the run's, when its labels are names (label names, folder names);
 * undefined when every name is an integer (integer labels keep being the class indices themselves).
 */
export function siteClassesOf(names: readonly string[] | undefined, source: string): SiteClasses | undefined {
  if (!names || names.length === 0 || names.every((n) => /^\d{1,9}$/.test(n.trim()))) return undefined;
  return { names: [...names], source };
}

/** The site's splits with labels renumbered to the run's classes, and the run's classes it lacks. */
export interface AlignedSiteData {
  data: Splits;
  textData?: TextSplits;
  missing: string[];
}

const alignDataset = (ds: Dataset, a: ClassAlignment, numClasses: number): Dataset => ({ ...ds, y: alignLabels(ds.y, a), numClasses });
const alignText = (t: TextDataset, a: ClassAlignment, runNames: readonly string[]): TextDataset => ({ texts: t.texts, labels: alignLabels(t.labels, a), classNames: [...runNames] });

/**
 * Renumbers a site's labels by the run's class names (align-class-labels.ts): throws FedtuneError('data')
 * naming the source and the label when the site has a class the run does not know.
 */
export function alignSiteData(data: Splits, textData: TextSplits | undefined, site: SiteClasses, runNames: readonly string[]): AlignedSiteData {
  const a = alignClassNames(site.names, runNames, site.source);
  const n = runNames.length;
  return {
    data: { train: alignDataset(data.train, a, n), validation: alignDataset(data.validation, a, n), test: alignDataset(data.test, a, n) },
    ...(textData ? { textData: { train: alignText(textData.train, a, runNames), validation: alignText(textData.validation, a, runNames), test: alignText(textData.test, a, runNames) } } : {}),
    missing: a.missing,
  };
}

/** Why a site refuses a run's terms over its classes (a label the run does not name), or undefined. */
export function classesRefusal(site: SiteClasses | undefined, runNames: readonly string[] | undefined): string | undefined {
  if (!site || !runNames) return undefined;
  try {
    alignClassNames(site.names, runNames, site.source);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * A site's per-class counts (site numbering) as the run numbers its classes: what a shared data summary reports,
 * so the coordinator's label-by-label totals add the same class across sites. Unchanged without both lists.
 */
export function countsInRunOrder(counts: readonly number[], site: SiteClasses | undefined, runNames: readonly string[] | undefined): number[] {
  if (!site || !runNames) return [...counts];
  const { runIndexOf } = alignClassNames(site.names, runNames, site.source);
  const out = new Array<number>(runNames.length).fill(0);
  counts.forEach((n, i) => {
    const k = runIndexOf[i];
    if (k !== undefined) out[k] += n;
  });
  return out;
}
