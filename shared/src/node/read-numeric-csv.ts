import { readInputText } from './read-input-file.ts';
import type { Dataset } from '../data/dataset.ts';
import { encodeTabularRows } from '../data/encode-tabular-rows.ts';
import { applyImputation, fitImputation, type ImputeMethod } from '../data/impute-missing.ts';
import { parseCsvRows } from '../data/parse-csv-rows.ts';
import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { MISSING_VALUE } from '../data/parse-csv-dataset.ts';
import { QUOTED_CELLS, readCsvDataset } from './read-csv-dataset.ts';

export interface NumericCsvOptions {
  labelColumn?: string;
  /** Number of classes (the model's); default: the largest label + 1. */
  numClasses?: number;
  /** Only these columns are features, in this order; default: every column but the label. */
  featureColumns?: readonly string[];
  /**
   * Fill missing feature values with the feature's mean, median (of this file's own present values) or zero
   * (`--impute`, as a site's); default: refuse a file with missing values.
   */
  impute?: ImputeMethod;
}

/**
 * A CSV of numeric features and an integer label column, as the coordinator's holdout (`--holdout`) and
 * `fedtune evaluate --data` read it: streamed by readCsvDataset when it can be (every column a feature, no
 * quoted or empty cell), else parsed as RFC 4180 (quoted cells such as "Braund, Mr. Owen Harris"; `featureColumns`),
 * and then every chosen feature must be numeric with no missing value (unless `impute` fills them), and every
 * label an integer class — otherwise one error that names the column.
 */
export function readNumericCsv(path: string, options: NumericCsvOptions = {}): Dataset {
  const labelColumn = options.labelColumn ?? 'label';
  if (!options.featureColumns) {
    try {
      // Stryker disable next-line ConditionalExpression: equivalent: readCsvDataset reads an explicit undefined numClasses as absent (`??`).
      return readCsvDataset(path, { labelColumn, ...(options.numClasses !== undefined ? { numClasses: options.numClasses } : {}) });
    } catch (err) {
      // Quoted cells, or an empty one: the full reader takes the one and counts (or imputes) the other.
      if (!(err instanceof FedtuneError && (err.message.includes(QUOTED_CELLS) || err.message.includes(MISSING_VALUE)))) throw err;
    }
  }
  let text: string;
  try {
    text = readInputText(path, { what: 'CSV dataset', code: 'data' });
  } catch (cause) {
    if (cause instanceof FedtuneError) throw cause;
    throw new FedtuneError('data', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  const tabular = encodeTabularRows(parseCsvRows(text, path), { labelColumn, source: path, ...(options.featureColumns ? { featureColumns: options.featureColumns } : {}) });
  const categorical = tabular.schema.columns.find((c) => c.kind === 'categorical');
  if (categorical) throw new FedtuneError('data', `${path}: column ${quoteClipped(categorical.name)} is not numeric (--feature-columns picks the numeric columns)`);
  const missing = tabular.schema.columns.filter((c) => c.missing > 0);
  if (missing.length > 0 && !options.impute) {
    throw new FedtuneError('data', `${path}: missing values in ${missing.slice(0, 5).map((c) => `${quoteClipped(c.name)} (${c.missing})`).join(', ')}${missing.length > 5 ? ', …' : ''}: fill them (--impute mean|median|zero), or leave the column out with --feature-columns`);
  }
  if (tabular.classNames) throw new FedtuneError('data', `${path}: the ${quoteClipped(labelColumn)} column holds names such as ${quoteClipped(tabular.classNames[0])}, not integer classes 0, 1, …`);
  // Stryker disable next-line ConditionalExpression,LogicalOperator,EqualityOperator: equivalent: imputing a file with no missing value changes nothing (the check saves a copy)
  const dataset = missing.length > 0 && options.impute ? applyImputation(tabular.dataset, fitImputation(tabular.dataset, options.impute)).dataset : tabular.dataset;
  const numClasses = options.numClasses ?? dataset.numClasses;
  if (dataset.numClasses > numClasses) throw new FedtuneError('data', `${path}: label ${dataset.numClasses - 1} is outside 0..${numClasses - 1}`);
  return { ...dataset, numClasses };
}
