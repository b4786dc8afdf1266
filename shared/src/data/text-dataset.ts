/**
 * Labeled texts as read from disk or a CSV text column, before any tokenizer: `texts[i]` has class
 * `labels[i]`, whose name is `classNames[labels[i]]`. A text model's tokenizer turns it into a Dataset.
 */
export interface TextDataset {
  texts: string[];
  labels: Int32Array;
  classNames: string[];
}
