import { encodeTabularRows, parseCsvRows, type TabularData, type TabularSettingNames } from '@fedtune/shared';

/** How errors name this page's CSV fields (the CLI's errors name its flags). */
export const BROWSER_TABULAR_SETTING_NAMES: Readonly<TabularSettingNames> = Object.freeze({
  labelColumn: 'the "Label column" field',
  categorical: 'the "categorical columns" field',
  featureColumns: 'the "feature columns" field',
  textColumn: 'the "text column" field',
});

export interface LoadOptions {
  labelColumn?: string;
  /** Number of classes of the run's model (at least the labels found; the model the coordinator sends decides). */
  numClasses?: number;
  /** Columns one-hot encoded even if numeric; non-numeric columns always are. */
  categorical?: readonly string[];
  /** Only these columns are features, in this order (as `fedtune client --feature-columns`); default: every column but the label. */
  featureColumns?: readonly string[];
}

/**
 * Reads a CSV file picked by the person — a header row, a label column (integers or names), numeric and
 * categorical columns (one-hot), missing cells as NaN — with the same shared code as `fedtune client --data
 * FILE.csv` (parseCsvRows + encodeTabularRows). Stays in the tab.
 */
export async function loadCsvFile(file: File, options: LoadOptions = {}): Promise<TabularData> {
  const text = await file.text();
  const tabular = encodeTabularRows(parseCsvRows(text, file.name), { labelColumn: options.labelColumn ?? 'label', categorical: options.categorical ?? [], source: file.name, settingNames: BROWSER_TABULAR_SETTING_NAMES, ...(options.featureColumns?.length ? { featureColumns: options.featureColumns } : {}) });
  const numClasses = Math.max(tabular.dataset.numClasses, options.numClasses ?? 0);
  return { ...tabular, dataset: { ...tabular.dataset, numClasses } };
}
