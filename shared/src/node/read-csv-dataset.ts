import { readFileSync } from 'node:fs';
import type { Dataset } from '../data/dataset.ts';
import { parseCsvDataset } from '../data/parse-csv-dataset.ts';
import { FedtuneError } from '../errors.ts';

/** Reads a CSV file of labeled examples from disk (see `parseCsvDataset`). */
export function readCsvDataset(path: string, options: { labelColumn?: string; numClasses?: number } = {}): Dataset {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new FedtuneError('data', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  return parseCsvDataset(text, { ...options, source: path });
}
