import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { readCsvDataset } from '../../shared/src/node/read-csv-dataset.ts';

// A CSV whose header is wider than 4,194,304 feature columns (2^32 / 1,024): the streaming reader once made room
// for 1,024 rows of it before reading the first, more floats than a typed array may hold, and failed with a
// RangeError where the text reader reads the file. Its rows now start as few as 4 MiB of floats hold.
it('a header of 4,194,305 features and one row is read', () => {
  const f = 4_194_305;
  const dir = mkdtempSync(join(tmpdir(), 'fedtune-csv-wide-'));
  try {
    const path = join(dir, 'wide.csv');
    writeFileSync(path, `label${',c'.repeat(f)}\n1${',0'.repeat(f - 1)},7\n`);
    const ds = readCsvDataset(path);
    expect({ featureShape: ds.featureShape, length: ds.x.length, last: ds.x[f - 1], first: ds.x[0], y: Array.from(ds.y), numClasses: ds.numClasses }).toEqual({
      featureShape: [f],
      length: f,
      last: 7,
      first: 0,
      y: [1],
      numClasses: 2,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
