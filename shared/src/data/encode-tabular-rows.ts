import type { Dataset } from './dataset.ts';
import { isFreeTextColumn } from './free-text-column.ts';
import { FedtuneError } from '../errors.ts';
import { quoteClipped } from '../text/clip-text.ts';
import { encodeLabels, sortClassNames } from './encode-labels.ts';
import { categoryBucket } from './hash-category.ts';

/** Cells read as a missing value (trimmed, any case). */
const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', '?']);
export const isMissingCell = (cell: string): boolean => MISSING.has(cell.trim().toLowerCase());

/** One input column as encoded: its name, kind, width in features and missing cells. Never a value. */
export interface TabularColumn {
  name: string;
  kind: 'numeric' | 'categorical';
  /** Features it becomes: 1 for numeric, its number of categories for categorical (one-hot), or its buckets when hashed. */
  width: number;
  missing: number;
  /** Categorical, hashed into `width` buckets (the same layout at every site). */
  hashed?: boolean;
}

/** The columns → features layout a site's CSV was encoded with: names and counts only, safe to report. */
export interface TabularSchema {
  columns: TabularColumn[];
  features: number;
}

export interface TabularData {
  dataset: Dataset;
  schema: TabularSchema;
  /** Label names by class index when the labels are names (absent for integer labels). */
  classNames?: string[];
}

export interface TabularOptions {
  labelColumn: string;
  /** Columns one-hot encoded even if numeric. */
  categorical?: readonly string[];
  /**
   * Hash every categorical column's values into this many features (categoryBucket) instead of one-hot over
   * the site's own categories: the same layout at every site (docs/data.md#categorical-columns-aligned-across-sites).
   */
  categoryBuckets?: number;
  /** Only these columns are features, in this order; every other column but the label is left out. */
  featureColumns?: readonly string[];
  /** Names the file in errors. */
  source?: string;
  /** How errors name the settings (default: the `fedtune client` flags; the browser names its form fields). */
  settingNames?: TabularSettingNames;
}

/** How errors name the label-column, categorical and feature-column settings to the user. */
export interface TabularSettingNames {
  labelColumn: string;
  categorical: string;
  featureColumns: string;
  /** The setting that reads a column as text (named when a column looks like free text: free-text-column.ts). */
  textColumn?: string;
}

/** The `fedtune client` flags: the default names of the settings in errors. */
export const CLI_TABULAR_SETTING_NAMES: Readonly<TabularSettingNames> = Object.freeze({ labelColumn: '--label-column', categorical: '--categorical', featureColumns: '--feature-columns', textColumn: '--text-column' });

/** The header's index of `name`, or a clear error listing how many columns there are (names are the site's own). */
export function columnIndex(header: string[], name: string, source: string, what: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw new FedtuneError('data', `${source}: no ${quoteClipped(name)} column in the header (${what})`);
  return i;
}

/**
 * The header indices of the feature columns: `options.featureColumns` in their order (each once, never the
 * label), or every column but the label.
 */
export function featureColumnIndices(header: string[], labelIndex: number, options: Pick<TabularOptions, 'featureColumns' | 'labelColumn' | 'settingNames'>, source: string): number[] {
  if (!options.featureColumns) return header.flatMap((_, c) => (c === labelIndex ? [] : [c]));
  const flag = (options.settingNames ?? CLI_TABULAR_SETTING_NAMES).featureColumns;
  const seen = new Set<string>();
  return options.featureColumns.map((name) => {
    if (seen.has(name)) throw new FedtuneError('config', `${flag} names ${quoteClipped(name)} twice`);
    seen.add(name);
    if (name === options.labelColumn) throw new FedtuneError('config', `${flag} names the label column ${quoteClipped(name)}`);
    return columnIndex(header, name, source, `named by ${flag}`);
  });
}

/**
 * Encodes CSV rows (the first is the header) as a Dataset — the feature columns (`featureColumns`, or every
 * column but the label): numeric columns as they are (a missing cell —
 * empty, NA, NaN, null, ? — becomes NaN, for the data check to count and --impute to fill), non-numeric or
 * `categorical` columns one-hot over the sorted categories found in this site's data (a missing cell: NaN in
 * all its features). The schema (column → kind, width) is returned beside it; the categories themselves
 * stay in this function.
 */
export function encodeTabularRows(rows: string[][], options: TabularOptions): TabularData {
  const source = options.source ?? 'the CSV';
  if (rows.length < 2) throw new FedtuneError('data', `${source}: needs a header row and at least one example`);
  const header = rows[0].map((h) => h.trim());
  const names = options.settingNames ?? CLI_TABULAR_SETTING_NAMES;
  const labelIndex = columnIndex(header, options.labelColumn, source, `the label column; ${names.labelColumn} names another`);
  const forced = new Set(options.categorical ?? []);
  for (const name of forced) columnIndex(header, name, source, `named by ${names.categorical}`);
  if (forced.has(options.labelColumn)) throw new FedtuneError('config', `${names.categorical} names the label column ${quoteClipped(options.labelColumn)}`);
  const features = featureColumnIndices(header, labelIndex, options, source);
  for (const name of forced) if (!features.includes(header.indexOf(name))) throw new FedtuneError('config', `${names.categorical} names ${quoteClipped(name)}, which ${names.featureColumns} leaves out`);
  const body = rows.slice(1);
  body.forEach((row, r) => {
    if (row.length !== header.length) throw new FedtuneError('data', `${source}: row ${r + 2} has ${row.length} cells, the header has ${header.length}`);
  });
  const { labels, numClasses, classNames } = encodeLabels(
    body.map((row) => row[labelIndex]),
    source,
    2,
  );
  const encoders: Array<{ column: TabularColumn; index: number; categories?: Map<string, number> }> = [];
  for (const c of features) {
    const name = header[c];
    let missing = 0;
    let numeric = !forced.has(name);
    for (const row of body) {
      if (isMissingCell(row[c])) missing++;
      else if (numeric && !Number.isFinite(Number(row[c]))) numeric = false;
    }
    if (numeric) encoders.push({ column: { name, kind: 'numeric', width: 1, missing }, index: c });
    else if (options.categoryBuckets !== undefined) {
      const buckets = options.categoryBuckets;
      const categories = new Map<string, number>();
      for (const row of body) if (!isMissingCell(row[c])) categories.set(row[c].trim(), categoryBucket(name, row[c].trim(), buckets));
      encoders.push({ column: { name, kind: 'categorical', width: buckets, missing, hashed: true }, index: c, categories });
    } else {
      const values = body.flatMap((row) => (isMissingCell(row[c]) ? [] : [row[c].trim()]));
      const text = forced.has(name) ? undefined : isFreeTextColumn(values);
      if (text) {
        const textSetting = names.textColumn ? `read it as the text column (${names.textColumn} ${quoteClipped(name)}) for a text model, ` : '';
        throw new FedtuneError('data', `${source}: column ${quoteClipped(name)} looks like free text, not categories (${text.distinct} distinct values in ${values.length} rows, ${Math.round(text.meanChars)} characters on average): ${textSetting}leave it out (${names.featureColumns}), or one-hot it anyway (${names.categorical} ${quoteClipped(name)})`);
      }
      const categoryNames = sortClassNames(values);
      encoders.push({ column: { name, kind: 'categorical', width: categoryNames.length, missing }, index: c, categories: new Map(categoryNames.map((v, i) => [v, i])) });
    }
  }
  const f = encoders.reduce((s, e) => s + e.column.width, 0);
  if (f === 0) throw new FedtuneError('data', `${source}: no feature columns`);
  const x = new Float32Array(body.length * f);
  body.forEach((row, r) => {
    let offset = r * f;
    for (const e of encoders) {
      const cell = row[e.index];
      if (isMissingCell(cell)) x.fill(NaN, offset, offset + e.column.width);
      else if (e.categories) x[offset + e.categories.get(cell.trim())!] = 1;
      else x[offset] = Number(cell);
      offset += e.column.width;
    }
  });
  return {
    dataset: { x, y: labels, featureShape: [f], numClasses },
    schema: { columns: encoders.map((e) => e.column), features: f },
    ...(classNames ? { classNames } : {}),
  };
}
