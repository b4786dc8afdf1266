import { createWriteStream } from 'node:fs';
import { featureSize, type Dataset } from '../data/dataset.ts';

/** Writes a dataset as CSV: a header row `label,f0,f1,…`, then one example per row. */
export async function writeCsvDataset(path: string, ds: Dataset, labelColumn = 'label'): Promise<void> {
  const f = featureSize(ds);
  const out = createWriteStream(path);
  const header = [labelColumn, ...Array.from({ length: f }, (_, i) => `px${i}`)].join(',');
  out.write(header + '\n');
  for (let i = 0; i < ds.y.length; i++) {
    const row: string[] = [String(ds.y[i])];
    for (let j = 0; j < f; j++) {
      const v = ds.x[i * f + j];
      row.push(v === 0 ? '0' : String(Math.round(v * 10000) / 10000));
    }
    if (!out.write(row.join(',') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}
