import { InvalidArgumentError, type Command } from 'commander';
import { parseSiteDataOptions, type SiteDataOptions, type SiteDataOptionsInput } from '@fedtune/shared';
import { choiceOption, columnListOption, intOption } from './options.ts';

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
    .option('--check-only', 'print the data check and exit without joining')
    .option('--json', 'print as JSON: the data check (with --check-only), or the signed terms and verdict (with --show-terms)')
    .option('--drop-duplicates', 'drop exact duplicate examples (same features and label, first copy kept) before the split')
    .option('--impute <method>', 'fill missing values with the feature’s mean, median or zero, fitted on the train split only (default: refuse data with missing values)', choiceOption('impute', ['mean', 'median', 'zero'] as const))
    .option('--class-weights <mode>', 'balanced: resample the train split to equal class shares (same number of examples)', choiceOption('class-weights', ['balanced'] as const));
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
