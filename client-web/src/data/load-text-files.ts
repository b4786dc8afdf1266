import { BROWSER_TABULAR_SETTING_NAMES } from './load-csv-file.ts';
import { checkClassCount, clipText, decodeTextFile, FedtuneError, MAX_TEXT_FILE_BYTES, sortClassNames, textFromCsvRows, parseCsvRows, type TextDataset } from '@fedtune/shared';

const TEXT_FILE = /\.txt$/i;

/** The class folder of a file picked with `webkitdirectory`: `picked/label/file.txt` (as the Node site reads a text folder: files directly in a class folder). */
function classOf(file: File): string | undefined {
  const parts = file.webkitRelativePath.split('/');
  return parts.length === 3 ? parts[1] : undefined;
}

/**
 * Reads a picked text folder — one sub-folder per class, each .txt file in it one example (UTF-8) — as raw
 * texts, like `fedtune client --data FOLDER` (classes in sorted folder-name order). A file that is not
 * UTF-8 or too large is one clear error naming it. Other files are skipped and counted.
 */
export async function loadTextFolder(files: ArrayLike<File>): Promise<{ text: TextDataset; skipped: number }> {
  const picked: Array<{ file: File; label: string }> = [];
  let skipped = 0;
  for (const file of Array.from(files)) {
    const label = classOf(file);
    if (label && TEXT_FILE.test(file.name)) picked.push({ file, label });
    else skipped++;
  }
  if (picked.length === 0) throw new FedtuneError('data', 'no .txt files found: pick a folder with one sub-folder of .txt files per class');
  picked.sort((a, b) => (a.file.webkitRelativePath < b.file.webkitRelativePath ? -1 : 1));
  const classNames = sortClassNames(picked.map((p) => p.label));
  checkClassCount('the picked folder', classNames.length, 'class folders');
  const index = new Map(classNames.map((name, k) => [name, k]));
  const texts: string[] = [];
  for (const { file } of picked) {
    try {
      if (file.size > MAX_TEXT_FILE_BYTES) throw new Error(`larger than ${MAX_TEXT_FILE_BYTES} bytes`);
      texts.push(decodeTextFile(new Uint8Array(await file.arrayBuffer())));
    } catch (err) {
      throw new FedtuneError('data', `cannot read ${clipText(file.webkitRelativePath, 300)}: ${clipText((err as Error).message, 200)}`);
    }
  }
  return { text: { texts, labels: Int32Array.from(picked, (p) => index.get(p.label)!), classNames }, skipped };
}

/** Reads a CSV with a text column and a label column as raw texts (the same shared code as `fedtune client --text-column`). */
export async function loadTextCsv(file: File, options: { textColumn: string; labelColumn: string }): Promise<TextDataset> {
  return textFromCsvRows(parseCsvRows(await file.text(), file.name), { ...options, source: file.name, settingNames: { textColumn: 'the "text column" field', labelColumn: BROWSER_TABULAR_SETTING_NAMES.labelColumn } });
}
