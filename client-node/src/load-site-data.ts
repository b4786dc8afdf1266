import { statSync } from 'node:fs';
import { deriveSeed, encodeTabularRows, FedtuneError, parseCsvRows, parsePartitionSpec, parseSiteDataOptions, textFromCsvRows, type Dataset, type SiteDataOptionsInput, type TabularSchema, type TextDataset } from '@fedtune/shared';
import { builtinDigitsSite, QUOTED_CELLS, readCsvDataset, readInputText } from '@fedtune/shared/node';
import { readImageFolder } from './data/read-image-folder.ts';
import { readTextFolder } from './data/read-text-folder.ts';
import { classFolderKind } from './data/class-folder-kind.ts';

/**
 * Loads a site's private data. Either a CSV file (a header row, an integer label column, numeric features),
 * or the built-in digits task's share for one site: `digits:K/N[:PARTITION][@SEED]`, e.g. `digits:3/8`,
 * `digits:3/8:iid@7` (site K of N, partition dirichlet:0.5 and seed 42 unless given).
 */
export function loadSiteData(spec: string, options: { labelColumn?: string; numClasses?: number } = {}): Dataset {
  const m = /^digits:(\d+)\/(\d+)(?::([a-z]+(?::[0-9.]+)?))?(?:@(\d+))?$/.exec(spec);
  if (m) {
    const k = Number(m[1]);
    const n = Number(m[2]);
    if (k < 1 || k > n) throw new FedtuneError('config', `digits site ${k} is outside 1..${n}`);
    // That one site's images only (the same as the federation's site k).
    return builtinDigitsSite(k - 1, { sites: n, partition: parsePartitionSpec(m[3] ?? 'dirichlet:0.5'), seed: Number(m[4] ?? 42) });
  }
  if (spec.startsWith('digits')) throw new FedtuneError('config', `cannot read "${spec}": use digits:K/N[:PARTITION][@SEED]`);
  // Classes come from the labels here; the model the coordinator sends decides (fit-data-to-model.ts).
  return readCsvDataset(spec, options);
}

/** A site's data as read from disk, with what the site's operator is told about reading it. */
export interface LoadedSiteData {
  kind: 'digits' | 'csv' | 'image-folder' | 'text';
  /** The examples (absent for text, which needs a text model's tokenizer first). */
  dataset?: Dataset;
  text?: TextDataset;
  /** Class index → name, when the labels are names (folders, or a non-integer label column). */
  classNames?: string[];
  /** How a tabular CSV's columns became features (names and counts only). */
  schema?: TabularSchema;
  /** The range the data's features are meant to lie in (images: [0, 1]). */
  expectedRange?: [number, number];
  /** Lines for the operator: class order, skipped and ignored files, the column schema. */
  notes: string[];
}

const NON_NUMERIC_CSV = new RegExp(`is not a number|is not a non-negative integer|${QUOTED_CELLS}`);

/**
 * Reads a site's data: the built-in digits share (`digits:K/N…`), a folder with one sub-folder per class
 * (PNG/JPEG images, or .txt texts), or a CSV — numeric with an integer label column (streamed), or with
 * categorical columns, missing cells or named labels (one-hot, NaN for missing), or a text column.
 */
export function readSiteData(spec: string, options: { labelColumn?: string } & SiteDataOptionsInput = {}): LoadedSiteData {
  const { labelColumn = 'label', ...rest } = options;
  const o = parseSiteDataOptions(rest);
  if (spec.startsWith('digits')) return { kind: 'digits', dataset: loadSiteData(spec), expectedRange: [0, 1], notes: [] };
  let isDir = false;
  try {
    isDir = statSync(spec).isDirectory();
  } catch (cause) {
    throw new FedtuneError('data', `cannot read ${spec}: ${(cause as Error).message}`, { cause });
  }
  const classLine = (names: string[], what: string) => `classes (sorted ${what}): ${names.map((n, i) => `${i}=${n}`).join(', ')}`;
  const skippedLines = (skipped: Array<{ file: string; reason: string }>) => (skipped.length ? [`skipped ${skipped.length} bad file${skipped.length === 1 ? '' : 's'}: ${skipped.map((s) => `${s.file} (${s.reason})`).join('; ')}`] : []);
  if (isDir) {
    if (classFolderKind(spec) === 'text') {
      const { data, skipped, ignored } = readTextFolder(spec, { skipBadFiles: o.skipBadFiles });
      return {
        kind: 'text',
        text: data,
        classNames: data.classNames,
        notes: [classLine(data.classNames, 'folder names'), ...skippedLines(skipped), ...(ignored ? [`ignored ${ignored} file${ignored === 1 ? '' : 's'} that ${ignored === 1 ? 'is' : 'are'} not .txt`] : [])],
      };
    }
    const images = readImageFolder(spec, { ...o.image, skipBadFiles: o.skipBadFiles });
    return {
      kind: 'image-folder',
      dataset: images.dataset,
      classNames: images.classNames,
      expectedRange: [0, 1],
      notes: [
        classLine(images.classNames, 'folder names'),
        `images resized to ${o.image.height}×${o.image.width}, ${o.image.channels === 1 ? 'grayscale' : 'RGB'}, values in [0, 1]`,
        ...skippedLines(images.skipped),
        ...(images.ignored ? [`ignored ${images.ignored} file${images.ignored === 1 ? '' : 's'} that are not PNG or JPEG`] : []),
      ],
    };
  }
  const rows = () => parseCsvRows(readInputText(spec, { what: 'CSV dataset', code: 'data' }), spec);
  if (o.textColumn) {
    const text = textFromCsvRows(rows(), { textColumn: o.textColumn, labelColumn, source: spec });
    return { kind: 'text', text, classNames: text.classNames, notes: [classLine(text.classNames, 'label names')] };
  }
  if (o.categorical.length === 0 && o.categoryBuckets === undefined && !o.featureColumns) {
    try {
      return { kind: 'csv', dataset: readCsvDataset(spec, { labelColumn }), notes: [] };
    } catch (err) {
      if (!(err instanceof FedtuneError && NON_NUMERIC_CSV.test(err.message))) throw err;
    }
  }
  const tabular = encodeTabularRows(rows(), { labelColumn, categorical: o.categorical, source: spec, ...(o.categoryBuckets !== undefined ? { categoryBuckets: o.categoryBuckets } : {}), ...(o.featureColumns ? { featureColumns: o.featureColumns } : {}) });
  const categorical = tabular.schema.columns.filter((c) => c.kind === 'categorical');
  return {
    kind: 'csv',
    dataset: tabular.dataset,
    schema: tabular.schema,
    ...(tabular.classNames ? { classNames: tabular.classNames } : {}),
    notes: [
      ...(tabular.classNames ? [classLine(tabular.classNames, 'label names')] : []),
      `columns: ${tabular.schema.columns.length} → ${tabular.schema.features} features${categorical.length ? (o.categoryBuckets !== undefined ? `; hashed into ${o.categoryBuckets} buckets each: ${categorical.map((c) => c.name).join(', ')}` : `; one-hot: ${categorical.map((c) => `${c.name} (${c.width} categories)`).join(', ')}`) : ''}`,
    ],
  };
}

/**
 * The run seed a site's split derives from: `--seed` if given, else the seed of a `digits:K/N@SEED` spec,
 * else `fallback` (the run configuration's default). With the coordinator's seed, the site splits its data
 * exactly as `fedtune simulate --seed` does.
 */
export function siteRunSeed(spec: string, given: number | undefined, fallback: number): number {
  if (given !== undefined) return given;
  const m = /^digits:[^@]*@(\d+)$/.exec(spec);
  return m ? Number(m[1]) : fallback;
}

/** The seed of a site's train/validation/test split in run `runSeed` (the same in simulate and in `fedtune client`). */
export function siteSplitSeed(runSeed: number, siteId: string): number {
  return deriveSeed(runSeed, 'split', siteId);
}
