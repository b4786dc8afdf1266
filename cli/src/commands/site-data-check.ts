import { checkDataset, classCounts, dropDuplicates, dropDuplicateTexts, dropMissingTexts, isMissingText, FedtuneError, formatDataCheck, pixelCsvWarning, type Dataset, type TextDataset, type DataCheckReport, type SiteDataOptions } from '@fedtune/shared';
import { balancedClassWeights, countLabels, countMissing, formatDataPreparation, type DataPreparation } from './site-data-preparation.ts';
import type { LoadedSiteData } from '@fedtune/client-node';

export interface CheckedSiteData {
  /** The data the site joins with (duplicates dropped if asked); absent for text data or --check-only. */
  dataset?: Dataset;
  /** Text data the site joins with (tokenized when the run's model brings its vocabulary; duplicates dropped if asked). */
  text?: TextDataset;
  report?: DataCheckReport;
}

/**
 * The site's data check before it joins: prints the notes of reading it and the check (lines, or JSON with
 * `json`) with what --drop-duplicates, --impute and --class-weights did or will do (site-data-preparation.ts),
 * then with `checkOnly` stops there. Otherwise refuses data the run cannot train on (text without a
 * text model, missing values without --impute) with one clear error, and drops duplicates if asked.
 */
export function checkSiteData(loaded: LoadedSiteData, options: SiteDataOptions & { json?: boolean; checkOnly?: boolean }, print: (line: string) => void): CheckedSiteData {
  if (!loaded.dataset) {
    const text = loaded.text!;
    const counts = countLabels(text.labels, text.classNames.length);
    const summary = { examples: text.texts.length, kind: 'text', missing: text.texts.filter(isMissingText).length, labels: { counts } };
    const prepared = preparedTexts(text, options);
    const preparation = { ...(Object.keys(prepared.preparation).length ? { preparation: prepared.preparation } : {}) };
    if (options.json) print(JSON.stringify({ ...summary, ...preparation }));
    else {
      for (const note of loaded.notes) print(note);
      print(`data check: ${summary.examples} texts, labels ${JSON.stringify(counts)} per class${summary.missing ? `; ${summary.missing} empty or missing (--impute drops them)` : ''}`);
      for (const line of formatDataPreparation(prepared.preparation, options, true)) print(line);
    }
    if (options.checkOnly) return {};
    if (prepared.text.texts.length === 0) throw new FedtuneError('data', 'every text is empty or missing: nothing left to train on');
    return { text: prepared.text };
  }
  const pixels = loaded.kind === 'image-folder' || loaded.kind === 'digits';
  const report = checkDataset(loaded.dataset, { ...(loaded.expectedRange ? { expectedRange: loaded.expectedRange } : {}), ...(pixels ? { pixels } : {}) });
  const prepared = preparedDataset(loaded.dataset, options);
  if (options.json) print(JSON.stringify({ ...report, ...(loaded.schema ? { schema: loaded.schema } : {}), ...(Object.keys(prepared.preparation).length ? { preparation: prepared.preparation } : {}) }));
  else {
    for (const note of loaded.notes) print(note);
    for (const line of formatDataCheck(report)) print(line);
    const pixels = loaded.kind === 'csv' ? pixelCsvWarning(loaded.dataset, { imageFolder: true }) : undefined;
    if (pixels) print(pixels);
    for (const line of formatDataPreparation(prepared.preparation, options)) print(line);
  }
  if (options.checkOnly) return { report };
  if (report.missing.count > 0 && options.impute === 'none') {
    throw new FedtuneError('data', `the data has ${report.missing.count} missing values in ${report.missing.examples.count} examples: fill them with --impute mean|median|zero, or fix the file`);
  }
  return { dataset: prepared.dataset, report };
}

/**
 * Features as the site joins with them (--drop-duplicates applied here), and what --drop-duplicates, --impute
 * and --class-weights do to them (imputation and balancing act on the splits at join: prepareSiteSplits).
 */
function preparedDataset(given: Dataset, options: SiteDataOptions): { dataset: Dataset; preparation: DataPreparation } {
  let dataset = given;
  const preparation: DataPreparation = {};
  if (options.dropDuplicates) {
    const dropped = dropDuplicates(dataset);
    dataset = dropped.dataset;
    preparation.duplicates = { dropped: dropped.dropped, left: dataset.y.length };
  }
  if (options.impute !== 'none') preparation.imputed = { method: options.impute, ...countMissing(dataset.x, dataset.x.length / Math.max(1, dataset.y.length)) };
  if (options.classWeights === 'balanced') preparation.classWeights = balancedClassWeights(classCounts(dataset));
  return { dataset, preparation };
}

/**
 * Text data as the site joins with it: --impute drops missing texts (empty, blank or NA-like: nothing to fill a
 * text with), --drop-duplicates drops repeated (text, label) pairs; --class-weights is applied to the train split
 * at join (balanceTextSplits).
 */
function preparedTexts(given: TextDataset, options: SiteDataOptions): { text: TextDataset; preparation: DataPreparation } {
  let text = given;
  const preparation: DataPreparation = {};
  if (options.impute !== 'none') {
    const kept = dropMissingTexts(text);
    text = kept.text;
    preparation.missingTextsDropped = { dropped: kept.dropped, left: text.texts.length };
  }
  if (options.dropDuplicates) {
    const kept = dropDuplicateTexts(text);
    text = kept.text;
    preparation.duplicates = { dropped: kept.dropped, left: text.texts.length };
  }
  if (options.classWeights === 'balanced') preparation.classWeights = balancedClassWeights(countLabels(text.labels, text.classNames.length));
  return { text, preparation };
}
