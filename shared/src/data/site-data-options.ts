import { z } from 'zod';
import { FedtuneError } from '../errors.ts';
import { clipText } from '../text/clip-text.ts';
import { MAX_CATEGORY_BUCKETS } from './hash-category.ts';

const ColumnName = z.string().min(1).max(200);

/**
 * How a site reads and prepares its own data before it joins (`fedtune client` flags; the browser site can
 * use the same object). The defaults live here only: the CLI parses its flags and overrides them.
 */
export const SiteDataOptions = z
  .object({
    /** Images are resized (bilinear) to height × width pixels with 1 (grayscale) or 3 (RGB) channels, in [0, 1]. */
    image: z
      .object({
        height: z.number().int().min(1).max(4096).default(28),
        width: z.number().int().min(1).max(4096).default(28),
        channels: z.union([z.literal(1), z.literal(3)]).default(1),
      })
      .strict()
      .prefault({}),
    /** Skip image or text files that cannot be read or decoded (counted and named), instead of failing on the first. */
    skipBadFiles: z.boolean().default(false),
    /** CSV: only these columns are features, in this order (every other column but the label is left out). */
    featureColumns: z.array(ColumnName).min(1).max(10000).optional(),
    /** CSV columns read as categories (one-hot) even if every value looks numeric; non-numeric columns always are. */
    categorical: z.array(ColumnName).max(1000).default([]),
    /**
     * Hash each categorical column's values into this many features instead of one-hot over the site's own
     * categories, so every site encodes them alike (docs/data.md#categorical-columns-aligned-across-sites).
     */
    categoryBuckets: z.number().int().min(1).max(MAX_CATEGORY_BUCKETS).optional(),
    /** The CSV column holding free text (a text dataset: one text and one label per row). */
    textColumn: ColumnName.optional(),
    /** Drop exact duplicates (same features and label; the first copy kept) before the split. */
    dropDuplicates: z.boolean().default(false),
    /** Replace missing values with the feature's mean / median / zero, fitted on the train split only. */
    impute: z.enum(['none', 'mean', 'median', 'zero']).default('none'),
    /** 'balanced': resample the train split so every class has an equal share (same number of examples). */
    classWeights: z.enum(['none', 'balanced']).default('none'),
  })
  .strict();
export type SiteDataOptions = z.output<typeof SiteDataOptions>;
export type SiteDataOptionsInput = z.input<typeof SiteDataOptions>;

/** The `fedtune client` flag that sets each field of SiteDataOptions, for refusals a user can act on. */
const FLAG_OF: Readonly<Record<string, string>> = {
  'image.height': '--image-size',
  'image.width': '--image-size',
  'image.channels': '--channels',
  skipBadFiles: '--skip-bad-files',
  featureColumns: '--feature-columns',
  categorical: '--categorical',
  categoryBuckets: '--category-buckets',
  textColumn: '--text-column',
  dropDuplicates: '--drop-duplicates',
  impute: '--impute',
  classWeights: '--class-weights',
};

/**
 * SiteDataOptions from what a user gave, with its defaults. Anything out of range is one FedtuneError('config')
 * line naming the flag that sets it (`--category-buckets: Too big: expected number to be <=1048576`), not a
 * schema's raw list of issues.
 */
export function parseSiteDataOptions(input: unknown): SiteDataOptions {
  const parsed = SiteDataOptions.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = issue.path.filter((p) => typeof p !== 'number').map(String).join('.');
  const item = issue.path.find((p) => typeof p === 'number');
  const where = `${Object.hasOwn(FLAG_OF, path) ? FLAG_OF[path] : path || 'data options'}${item === undefined ? '' : ` (item ${Number(item) + 1})`}`;
  throw new FedtuneError('config', clipText(`${where}: ${issue.message}`));
}
