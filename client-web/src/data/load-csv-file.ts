import { parseCsvDataset, type Dataset } from '@fedtune/shared';

export interface LoadOptions {
  labelColumn?: string;
  /** Number of classes of the run's model (default 10, as in the Node client). */
  numClasses?: number;
}

/** Reads a CSV file picked by the person (header row, integer label column, numeric features). Stays in the tab. */
export async function loadCsvFile(file: File, options: LoadOptions = {}): Promise<Dataset> {
  const text = await file.text();
  return parseCsvDataset(text, { labelColumn: options.labelColumn ?? 'label', numClasses: options.numClasses ?? 10, source: file.name });
}
