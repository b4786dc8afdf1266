import {
  checkDataset,
  checkTextDataset,
  deriveSeed,
  dropDuplicates,
  dropDuplicateTexts,
  FedtuneError,
  formatDataCheck,
  formatTextDataCheck,
  labelOnlySplits,
  pixelCsvWarning,
  prepareSiteSplits,
  SiteDataOptions,
  splitDataset,
  splitTextDataset,
  type DataCheckReport,
  type Dataset,
  type Splits,
  type TextDataCheckReport,
  type TextDataset,
  type TextSplits,
} from '@fedtune/shared';

/** What the page loaded: examples (an image folder, a CSV) or raw texts (a text folder, a CSV text column). */
export type BrowserSiteData =
  | { kind: 'examples'; dataset: Dataset; /** The range the features are meant to lie in (images: [0, 1]). */ expectedRange?: [number, number] }
  | { kind: 'text'; text: TextDataset };

/** The three choices of the page's data-check panel (checkboxes). */
export interface BrowserDataChoices {
  dropDuplicates: boolean;
  /** Fill missing values with the feature's mean on the train split. */
  impute: boolean;
  /** Resample the train split to equal class shares. */
  classWeights: boolean;
}

export type BrowserDataCheck = { kind: 'examples'; report: DataCheckReport; lines: string[] } | { kind: 'text'; report: TextDataCheckReport; lines: string[] };

/**
 * The shared data check (the one `fedtune client --check-only` prints) of what the page loaded: counts and indices,
 * never a value; with the same warning for a CSV whose features look like raw 0–255 pixels (pixelCsvWarning).
 */
export function checkBrowserSiteData(data: BrowserSiteData): BrowserDataCheck {
  if (data.kind === 'text') {
    const report = checkTextDataset(data.text);
    return { kind: 'text', report, lines: formatTextDataCheck(report) };
  }
  // Only image folders bring an expected range ([0, 1]): their features are pixels, with no per-feature robust range.
  const report = checkDataset(data.dataset, data.expectedRange ? { expectedRange: data.expectedRange, pixels: true } : {});
  // A CSV (no expected range) of raw 0–255 pixels: the warning `fedtune client` prints, as the check's last line.
  const pixels = data.expectedRange ? undefined : pixelCsvWarning(data.dataset);
  return { kind: 'examples', report, lines: [...formatDataCheck(report), ...(pixels ? [pixels] : [])] };
}

/** The page's checkboxes as the Node client's data options (SiteDataOptions: its defaults, its validation). */
export function siteDataOptionsOf(choices: BrowserDataChoices): SiteDataOptions {
  return SiteDataOptions.parse({
    dropDuplicates: choices.dropDuplicates,
    ...(choices.impute ? { impute: 'mean' } : {}),
    ...(choices.classWeights ? { classWeights: 'balanced' } : {}),
  });
}

/** What the site trains on, and how the choices changed it (counts only). */
export interface PreparedBrowserSiteData {
  splits: Splits;
  /** A text site's raw texts, tokenized when the run's model brings its vocabulary (then `splits` holds labels only). */
  textData?: TextSplits;
  droppedDuplicates: number;
}

/**
 * The site's data as it joins with it, prepared exactly as `fedtune client` prepares it: duplicates dropped
 * before the split if asked; data with missing values refused unless imputed; the seeded split (seeded by the
 * site name); missing values imputed with the train split's means and the train split resampled to equal class
 * shares (prepareSiteSplits). Imputing and class weights apply to numeric features: refused for texts.
 */
export function prepareBrowserSiteData(data: BrowserSiteData, choices: BrowserDataChoices, siteId: string): PreparedBrowserSiteData {
  const options = siteDataOptionsOf(choices);
  const splitSeed = deriveSeed(0, 'split', siteId);
  if (data.kind === 'text') {
    if (options.impute !== 'none' || options.classWeights !== 'none') throw new FedtuneError('config', 'imputing and class weights apply to numeric features, not to texts');
    const kept = options.dropDuplicates ? dropDuplicateTexts(data.text) : { text: data.text, dropped: 0 };
    const textData = splitTextDataset(kept.text, splitSeed);
    return { splits: labelOnlySplits(textData), textData, droppedDuplicates: kept.dropped };
  }
  const kept = options.dropDuplicates ? dropDuplicates(data.dataset) : { dataset: data.dataset, dropped: 0 };
  if (options.impute === 'none') {
    const missing = kept.dataset.x.reduce((n, v) => (Number.isNaN(v) ? n + 1 : n), 0);
    if (missing > 0) throw new FedtuneError('data', `the data has ${missing} missing values: tick "impute missing values", or fix the file`);
  }
  const splits = prepareSiteSplits(splitDataset(kept.dataset, splitSeed), { impute: options.impute, classWeights: options.classWeights, seed: deriveSeed(0, 'balance', siteId) });
  return { splits, droppedDuplicates: kept.dropped };
}
