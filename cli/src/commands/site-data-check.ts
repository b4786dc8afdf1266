import { checkDataset, classCounts, dropDuplicates, dropDuplicateTexts, dropMissingTexts, isMissingText, FedtuneError, formatDataCheck, pixelCsvWarning, type Dataset, type TextDataset, type DataCheckReport, type SiteDataOptions } from '@fedtune/shared';
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
 * `json`), then with `checkOnly` stops there. Otherwise refuses data the run cannot train on (text without a
 * text model, missing values without --impute) with one clear error, and drops duplicates if asked.
 */
export function checkSiteData(loaded: LoadedSiteData, options: SiteDataOptions & { json?: boolean; checkOnly?: boolean }, print: (line: string) => void): CheckedSiteData {
  if (!loaded.dataset) {
    const text = loaded.text!;
    const counts = new Array<number>(text.classNames.length).fill(0);
    for (const y of text.labels) counts[y]++;
    const summary = { examples: text.texts.length, kind: 'text', missing: text.texts.filter(isMissingText).length, labels: { counts } };
    if (options.json) print(JSON.stringify(summary));
    else {
      for (const note of loaded.notes) print(note);
      print(`data check: ${summary.examples} texts, labels ${JSON.stringify(counts)} per class${summary.missing ? `; ${summary.missing} empty or missing (--impute drops them)` : ''}`);
    }
    if (options.checkOnly) return {};
    return { text: checkedTexts(text, options, print) };
  }
  const pixels = loaded.kind === 'image-folder' || loaded.kind === 'digits';
  const report = checkDataset(loaded.dataset, { ...(loaded.expectedRange ? { expectedRange: loaded.expectedRange } : {}), ...(pixels ? { pixels } : {}) });
  if (options.json) print(JSON.stringify({ ...report, ...(loaded.schema ? { schema: loaded.schema } : {}) }));
  else {
    for (const note of loaded.notes) print(note);
    for (const line of formatDataCheck(report)) print(line);
    const pixels = loaded.kind === 'csv' ? pixelCsvWarning(loaded.dataset, { imageFolder: true }) : undefined;
    if (pixels) print(pixels);
  }
  if (options.checkOnly) return { report };
  if (report.missing.count > 0 && options.impute === 'none') {
    throw new FedtuneError('data', `the data has ${report.missing.count} missing values in ${report.missing.examples.count} examples: fill them with --impute mean|median|zero, or fix the file`);
  }
  let dataset = loaded.dataset;
  if (options.dropDuplicates) {
    const dropped = dropDuplicates(dataset);
    dataset = dropped.dataset;
    if (!options.json) print(`dropped ${dropped.dropped} duplicate examples: ${dataset.y.length} left, classes ${JSON.stringify(classCounts(dataset))}`);
  }
  return { dataset, report };
}

/**
 * Text data as the site joins with it: --impute drops missing texts (empty, blank or NA-like: nothing to fill a
 * text with), --drop-duplicates drops repeated (text, label) pairs; --class-weights is applied to the train split
 * at join (balanceTextSplits).
 */
function checkedTexts(given: TextDataset, options: SiteDataOptions & { json?: boolean }, print: (line: string) => void): TextDataset {
  let text = given;
  if (options.impute !== 'none') {
    const kept = dropMissingTexts(text);
    text = kept.text;
    if (!options.json) print(`dropped ${kept.dropped} empty or missing texts (--impute on text data drops them: there is nothing to fill a text with): ${text.texts.length} left`);
    if (text.texts.length === 0) throw new FedtuneError('data', 'every text is empty or missing: nothing left to train on');
  }
  if (!options.dropDuplicates) return text;
  const kept = dropDuplicateTexts(text);
  if (!options.json) print(`dropped ${kept.dropped} duplicate texts: ${kept.text.texts.length} left`);
  return kept.text;
}
