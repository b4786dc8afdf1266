import { InvalidArgumentError, type Command } from 'commander';
import { FedtuneError, parseSiteDataOptions, type SiteDataOptions, type SiteDataOptionsInput } from '@fedtune/shared';
import { choiceOption, columnListOption, intOption, typedOnCommandLine } from './options.ts';

/** `--image-size HxW` (or one number for a square). */
export function imageSizeOption(value: string): { height: number; width: number } {
  const m = /^(\d{1,4})(?:x(\d{1,4}))?$/i.exec(value.trim());
  if (!m || Number(m[1]) < 1 || (m[2] !== undefined && Number(m[2]) < 1)) throw new InvalidArgumentError('image-size must be HxW (e.g. 28x28) or one size, each 1..4096');
  return { height: Number(m[1]), width: Number(m[2] ?? m[1]) };
}

/**
 * The client's data flags: how the site reads its files (images, categorical CSV, text) and the data check
 * and preparation before it joins. Their defaults are SiteDataOptions' (shared/src/data/site-data-options.ts).
 */
export function addSiteDataOptions(command: Command): Command {
  return command
    .option('--image-size <HxW>', 'image folders: resize each image to H×W pixels, bilinear (default 28x28)', imageSizeOption)
    .option('--channels <n>', 'image folders: 1 = grayscale, 3 = RGB (default 1)', choiceOption('channels', ['1', '3'] as const))
    .option('--skip-bad-files', 'image/text folders: skip files that cannot be decoded (counted and named) instead of stopping at the first')
    .option('--feature-columns <columns>', 'CSV: only these columns are features, in this order (comma-separated); every other column but the label is left out', columnListOption)
    .option('--categorical <columns>', 'CSV: one-hot encode these columns (comma-separated) even if their values look numeric; non-numeric columns always are', columnListOption)
    .option('--category-buckets <n>', 'CSV: hash each categorical column\'s values into N features (the same layout at every site; the run\'s model input counts N per categorical column) instead of one-hot over this site\'s own categories', intOption('category-buckets', 1))
    .option('--text-column <name>', 'CSV: the column holding each example’s text (a text dataset)')
    .option('--check-only', 'print the data check, with what --drop-duplicates, --impute and --class-weights do to this data, and exit without joining')
    .option('--json', 'print as JSON: the data check (with --check-only), or the signed terms and verdict (with --show-terms)')
    .option('--drop-duplicates', 'drop exact duplicate examples (same features and label; texts: same text and label; first copy kept) before the split')
    .option('--impute <method>', 'fill missing values with the feature’s mean, median or zero, fitted on the train split only (default: refuse data with missing values); text data: any method drops empty or missing texts', choiceOption('impute', ['mean', 'median', 'zero'] as const))
    .option('--class-weights <mode>', 'balanced: resample the train split (examples or texts) to equal class shares, same number of examples, validation and test as they are; the data check (and --check-only) shows the counts before and after and the class weights', choiceOption('class-weights', ['balanced'] as const));
}

/** The data options the flags given ask for, over SiteDataOptions' defaults. */
export function siteDataOptionsFrom(o: Record<string, unknown>): SiteDataOptions {
  const given: SiteDataOptionsInput = {
    image: { ...(o.imageSize as object | undefined), ...(o.channels ? { channels: Number(o.channels) as 1 | 3 } : {}) },
    ...(o.skipBadFiles ? { skipBadFiles: true } : {}),
    ...(o.featureColumns ? { featureColumns: o.featureColumns as string[] } : {}),
    ...(o.categorical ? { categorical: o.categorical as string[] } : {}),
    ...(o.textColumn ? { textColumn: o.textColumn as string } : {}),
    ...(o.categoryBuckets !== undefined ? { categoryBuckets: o.categoryBuckets as number } : {}),
    ...(o.dropDuplicates ? { dropDuplicates: true } : {}),
    ...(o.impute ? { impute: o.impute as 'mean' } : {}),
    ...(o.classWeights ? { classWeights: o.classWeights as 'balanced' } : {}),
  };
  return parseSiteDataOptions(given);
}

/** The kinds of `--data` a site reads (readSiteData), a CSV with a text column apart. */
export type SiteDataKind = 'digits' | 'csv' | 'csv-text' | 'image-folder' | 'text-folder';

/** The data flags that only some kinds read, with the kinds that do (a flag not listed acts on every kind). */
const KIND_SPECIFIC_FLAGS: ReadonlyArray<{ attribute: string; flag: string; reads: string; kinds: readonly SiteDataKind[] }> = [
  { attribute: 'imageSize', flag: '--image-size', reads: 'image folders', kinds: ['image-folder'] },
  { attribute: 'channels', flag: '--channels', reads: 'image folders', kinds: ['image-folder'] },
  { attribute: 'skipBadFiles', flag: '--skip-bad-files', reads: 'image and text folders', kinds: ['image-folder', 'text-folder'] },
  { attribute: 'featureColumns', flag: '--feature-columns', reads: "a CSV's feature columns", kinds: ['csv'] },
  { attribute: 'categorical', flag: '--categorical', reads: "a CSV's feature columns", kinds: ['csv'] },
  { attribute: 'categoryBuckets', flag: '--category-buckets', reads: "a CSV's feature columns", kinds: ['csv'] },
  { attribute: 'labelColumn', flag: '--label-column', reads: 'a CSV', kinds: ['csv', 'csv-text'] },
  { attribute: 'textAugment', flag: '--no-text-augment', reads: 'texts (it opts out of text augmentation)', kinds: ['text-folder', 'csv-text'] },
];

const KIND_NAMES: Record<SiteDataKind, string> = {
  digits: 'the built-in digits (digits:K/N)',
  csv: 'a CSV of features',
  'csv-text': 'a CSV with --text-column',
  'image-folder': 'an image folder',
  'text-folder': 'a folder of texts',
};

/** The kind of `--data` that readSiteData read (`kind`), with `--text-column` telling a text CSV from a text folder. */
export function siteDataKind(kind: 'digits' | 'csv' | 'image-folder' | 'text', textColumn: string | undefined): SiteDataKind {
  return kind === 'text' ? (textColumn ? 'csv-text' : 'text-folder') : kind;
}

/**
 * Refuses (FedtuneError 'config') a data flag typed on `command` that the data's kind does not read: it would
 * do nothing (e.g. `--image-size` on a CSV), so the operator is told which data it reads instead.
 */
export function refuseSiteDataFlagsWithoutEffect(command: Command, kind: SiteDataKind): void {
  for (const f of KIND_SPECIFIC_FLAGS) {
    if (typedOnCommandLine(command, f.attribute) && !f.kinds.includes(kind)) {
      throw new FedtuneError('config', `${f.flag} reads ${f.reads}: it has no effect on --data that is ${KIND_NAMES[kind]}`);
    }
  }
}
