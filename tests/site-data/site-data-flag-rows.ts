import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pngjs from 'pngjs';
import { expect } from 'vitest';
import { classCounts, splitDataset, type Dataset, type Splits } from '@fedtune/shared';

interface RecordedSite {
  data: Dataset;
  prepareSplits?: (splits: Splits) => Splits;
}

function png(size: number, grey: number): Buffer {
  const image = new pngjs.PNG({ width: size, height: size });
  for (let i = 0; i < size * size; i++) image.data.set([grey, grey, grey, 255], 4 * i);
  return pngjs.PNG.sync.write(image);
}

/**
 * Rows of the client option table (tests/cli-options/command-options.test.ts) for the data flags: each runs
 * the real `fedtune client` action (runNodeSite recorded) and checks that the flag changes what the site
 * joins with. `client` resolves undefined when the command never joined (--check-only).
 */
export function siteDataFlagRows(client: (argv: string[]) => Promise<RecordedSite | undefined>, dir: string, logs: string[]): Record<string, () => Promise<void>> {
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const images = join(dir, 'images');
  mkdirSync(join(images, 'a'), { recursive: true });
  mkdirSync(join(images, 'b'), { recursive: true });
  writeFileSync(join(images, 'a', '1.png'), png(4, 10));
  writeFileSync(join(images, 'b', '1.png'), png(4, 200));
  const broken = join(dir, 'broken-images');
  mkdirSync(join(broken, 'a'), { recursive: true });
  writeFileSync(join(broken, 'a', 'ok.png'), png(4, 10));
  writeFileSync(join(broken, 'a', 'bad.png'), 'not a png');
  const numeric = file('flags-numeric.csv', 'label,a,b\n0,1,5\n1,2,6\n0,1,7\n');
  const duplicated = file('flags-dups.csv', 'label,a\n0,1\n0,1\n1,2\n0,1\n');
  const missing = file('flags-missing.csv', 'label,a\n0,1\n1,\n0,3\n1,4\n0,5\n1,6\n0,7\n1,8\n0,9\n1,10\n');
  const texts = file('flags-text.csv', 'label,body\nspam,win\nham,hi\n');
  const imbalanced = file('flags-imbalanced.csv', `label,a\n${Array.from({ length: 40 }, (_, i) => `${i < 36 ? 0 : 1},${i}`).join('\n')}\n`);
  return {
    '--image-size': async () => {
      expect((await client(['--data', images, '--image-size', '2x3']))!.data.featureShape).toEqual([2, 3, 1]);
      expect((await client(['--data', images, '--image-size', '5']))!.data.featureShape).toEqual([5, 5, 1]);
      expect((await client(['--data', images]))!.data.featureShape).toEqual([28, 28, 1]);
      await expect(client(['--data', images, '--image-size', '0x3'])).rejects.toThrow(/image-size must be HxW/);
      // On data that is not an image folder it would do nothing: refused, saying what it reads.
      await expect(client(['--data', numeric, '--image-size', '5'])).rejects.toMatchObject({ code: 'config', message: '--image-size reads image folders: it has no effect on --data that is a CSV of features' });
      await expect(client(['--data', 'digits:1/4', '--image-size', '5'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('no effect on --data that is the built-in digits') });
    },
    '--channels': async () => {
      expect((await client(['--data', images, '--channels', '3', '--image-size', '2x2']))!.data.featureShape).toEqual([2, 2, 3]);
      await expect(client(['--data', images, '--channels', '2'])).rejects.toThrow(/channels must be one of 1, 3/);
      await expect(client(['--data', texts, '--text-column', 'body', '--channels', '3'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--channels reads image folders: it has no effect on --data that is a CSV with --text-column') });
    },
    '--skip-bad-files': async () => {
      await expect(client(['--data', broken])).rejects.toThrow(/cannot decode .*bad\.png/);
      expect((await client(['--data', broken, '--skip-bad-files']))!.data.y.length).toBe(1);
      expect(logs.some((l) => /skipped 1 bad file: .*bad\.png/.test(l))).toBe(true);
      await expect(client(['--data', numeric, '--skip-bad-files'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--skip-bad-files reads image and text folders') });
    },
    '--feature-columns': async () => {
      const quoted = file('flags-quoted.csv', 'id,label,name,a,b\n1,0,"Moran, James",1,5\n2,1,"Allen, William",2,6\n');
      expect((await client(['--data', quoted, '--feature-columns', 'b,a']))!.data.featureShape).toEqual([2]);
      expect(Array.from((await client(['--data', quoted, '--feature-columns', 'b,a']))!.data.x)).toEqual([5, 1, 6, 2]);
      // Without it every column but the label is a feature (the quoted names one-hot).
      expect((await client(['--data', quoted]))!.data.featureShape).toEqual([1 + 2 + 1 + 1]);
      await expect(client(['--data', quoted, '--feature-columns', 'a,zz'])).rejects.toThrow(/no "zz" column/);
      await expect(client(['--data', images, '--feature-columns', 'a'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining("--feature-columns reads a CSV's feature columns: it has no effect on --data that is an image folder") });
      await expect(client(['--data', texts, '--text-column', 'body', '--feature-columns', 'label'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('a CSV with --text-column') });
    },
    '--categorical': async () => {
      expect((await client(['--data', numeric]))!.data.featureShape).toEqual([2]);
      expect((await client(['--data', numeric, '--categorical', 'b']))!.data.featureShape).toEqual([4]);
      expect((await client(['--data', numeric, '--categorical', 'a,b']))!.data.featureShape).toEqual([5]);
      await expect(client(['--data', 'digits:1/4', '--categorical', 'a'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--categorical reads') });
    },
    // Hashed categories: N features per categorical column, whatever categories this site has.
    '--category-buckets': async () => {
      expect((await client(['--data', numeric, '--categorical', 'b', '--category-buckets', '7']))!.data.featureShape).toEqual([8]);
      expect((await client(['--data', numeric, '--categorical', 'a,b', '--category-buckets', '5']))!.data.featureShape).toEqual([10]);
      expect((await client(['--data', texts, '--category-buckets', '3']))!.data.featureShape).toEqual([3]);
      await expect(client(['--data', numeric, '--category-buckets', '0'])).rejects.toThrow(/category-buckets must be an integer ≥ 1/);
      await expect(client(['--data', numeric, '--category-buckets', '65537'])).rejects.toThrow('--category-buckets: Too big: expected number to be <=65536');
      await expect(client(['--data', images, '--category-buckets', '3'])).rejects.toMatchObject({ code: 'config', message: expect.stringContaining('--category-buckets reads') });
    },
    '--text-column': async () => {
      // Without it, the text column is just another categorical column (one-hot over the 2 texts).
      expect((await client(['--data', texts]))!.data.featureShape).toEqual([2]);
      // With it, the site joins with the raw texts (tokenized with the vocabulary the run's model brings: docs/text.md).
      expect(((await client(['--data', texts, '--text-column', 'body']))!.data as unknown as { texts: string[] }).texts).toEqual(['win', 'hi']);
    },
    '--check-only': async () => {
      expect(await client(['--data', numeric, '--check-only'])).toBeUndefined();
      expect(await client(['--data', texts, '--text-column', 'body', '--check-only'])).toBeUndefined();
      expect(await client(['--data', missing, '--check-only'])).toBeUndefined();
      expect(await client(['--data', numeric])).toBeDefined();
    },
    '--json': async () => {
      logs.length = 0;
      await client(['--data', duplicated, '--json', '--check-only']);
      expect(logs).toHaveLength(1);
      expect(JSON.parse(logs[0])).toMatchObject({ examples: 4, duplicates: { count: 2, indices: [1, 3] } });
      logs.length = 0;
      await client(['--data', duplicated, '--check-only']);
      expect(logs.some((l) => l.startsWith('  duplicates: 2 exact (examples 1, 3)'))).toBe(true);
      expect(() => JSON.parse(logs[0])).toThrow();
    },
    '--drop-duplicates': async () => {
      expect((await client(['--data', duplicated]))!.data.y.length).toBe(4);
      const dropped = (await client(['--data', duplicated, '--drop-duplicates']))!.data;
      expect(Array.from(dropped.y)).toEqual([0, 1]);
      // --check-only shows what it does: the duplicates dropped (in lines and in the JSON check).
      logs.length = 0;
      await client(['--data', duplicated, '--drop-duplicates', '--check-only']);
      expect(logs).toContain('--drop-duplicates: dropped 2 duplicate examples: 2 left');
      logs.length = 0;
      await client(['--data', duplicated, '--check-only']);
      expect(logs.some((l) => l.startsWith('--drop-duplicates'))).toBe(false);
      logs.length = 0;
      await client(['--data', duplicated, '--drop-duplicates', '--check-only', '--json']);
      expect(JSON.parse(logs[0]).preparation).toEqual({ duplicates: { dropped: 2, left: 2 } });
      logs.length = 0;
      await client(['--data', texts, '--text-column', 'body', '--drop-duplicates', '--check-only']);
      expect(logs).toContain('--drop-duplicates: dropped 0 duplicate texts: 2 left');
    },
    '--impute': async () => {
      await expect(client(['--data', missing])).rejects.toThrow(/1 missing values in 1 examples: fill them with --impute/);
      for (const [method, want] of [['zero', 0], ['mean', 6], ['median', 6]] as const) {
        const site = (await client(['--data', missing, '--impute', method]))!;
        // Fitted on the train split: put the example with the missing value in the test split and the rest in train.
        const all = site.data;
        const splits = { train: { ...all, x: all.x.filter((_, i) => i !== 1), y: all.y.filter((_, i) => i !== 1) }, validation: all, test: all };
        const prepared = site.prepareSplits!(splits);
        const trainMean = splits.train.x.reduce((a, b) => a + b, 0) / splits.train.x.length;
        expect(prepared.test.x[1]).toBe(method === 'zero' ? 0 : method === 'mean' ? Math.fround(trainMean) : want);
      }
      await expect(client(['--data', missing, '--impute', 'mode'])).rejects.toThrow(/impute must be one of mean, median, zero/);
      // --check-only shows what it will do: the missing values filled at join (none to fill is said too).
      logs.length = 0;
      await client(['--data', missing, '--impute', 'median', '--check-only']);
      expect(logs).toContain("--impute median: fills 1 missing values in 1 examples with each feature's median over the train split when the site joins");
      logs.length = 0;
      await client(['--data', numeric, '--impute', 'zero', '--check-only']);
      expect(logs).toContain('--impute zero: no missing values to fill');
      logs.length = 0;
      await client(['--data', missing, '--impute', 'mean', '--check-only', '--json']);
      expect(JSON.parse(logs[0]).preparation).toEqual({ imputed: { method: 'mean', values: 1, examples: 1 } });
      const blanks = file('flags-text-blank.csv', 'label,body\nspam,win\nham,\nham,NA\n');
      logs.length = 0;
      await client(['--data', blanks, '--text-column', 'body', '--impute', 'zero', '--check-only']);
      expect(logs).toContain('--impute zero: dropped 2 empty or missing texts (there is nothing to fill a text with): 1 left');
    },
    '--class-weights': async () => {
      const plain = (await client(['--data', imbalanced]))!;
      expect(plain.prepareSplits).toBeUndefined();
      const site = (await client(['--data', imbalanced, '--class-weights', 'balanced']))!;
      const splits = splitDataset(site.data, 1, 0, 0);
      expect(classCounts(splits.train)).toEqual([36, 4]);
      expect(classCounts(site.prepareSplits!(splits).train)).toEqual([20, 20]);
      // --check-only shows the class weights it uses: the counts resampled over all the data.
      logs.length = 0;
      await client(['--data', imbalanced, '--class-weights', 'balanced', '--check-only']);
      expect(logs).toContain('--class-weights balanced: the train split is resampled to equal class shares when the site joins; over all the data, per class [36,4] → [20,20] examples, class weights [0.556,5]');
      logs.length = 0;
      await client(['--data', imbalanced, '--class-weights', 'balanced', '--check-only', '--json']);
      expect(JSON.parse(logs[0]).preparation).toEqual({ classWeights: { mode: 'balanced', counts: [36, 4], resampled: [20, 20], weights: [0.556, 5] } });
      logs.length = 0;
      await client(['--data', texts, '--text-column', 'body', '--class-weights', 'balanced', '--check-only']);
      expect(logs.some((l) => l.startsWith('--class-weights balanced: ') && l.includes('[1,1] → [1,1] texts'))).toBe(true);
    },
  };
}
