import type { Dataset } from '../data/dataset.ts';
import { FedtuneError } from '../errors.ts';
import type { TextDataset } from '../data/text-dataset.ts';
import { PAD_ID, UNK_ID, type Vocabulary } from './vocabulary.ts';
import { wordTokens } from './word-tokens.ts';

/**
 * Turns texts into fixed-length token ids with one vocabulary: words (word-tokens.ts) map to their id, unknown
 * words to UNK_ID (1); the first `sequenceLength` ids are kept and the rest padded with PAD_ID (0).
 */
export class TextTokenizer {
  private readonly ids: Map<string, number>;

  constructor(readonly vocabulary: Vocabulary) {
    this.ids = new Map(vocabulary.tokens.map((t, i) => [t, i]));
  }

  get sequenceLength(): number {
    return this.vocabulary.sequenceLength;
  }

  get size(): number {
    return this.vocabulary.tokens.length;
  }

  /** The ids of one text into `out` (sequenceLength values from `offset`). */
  encodeInto(text: string, out: Float32Array | Int32Array, offset = 0): void {
    const words = wordTokens(text);
    const n = this.vocabulary.sequenceLength;
    for (let i = 0; i < n; i++) {
      const w = words[i];
      // Special tokens are never words of a text: "<pad>" in a mail is the words "pad".
      out[offset + i] = w === undefined ? PAD_ID : (this.ids.get(w) ?? UNK_ID);
    }
  }

  encode(text: string): Int32Array {
    const out = new Int32Array(this.vocabulary.sequenceLength);
    this.encodeInto(text, out);
    return out;
  }

  /** Token ids of all texts, n × sequenceLength, as a Dataset's features (ids are exact in float32 below 2^24). */
  encodeAll(texts: readonly string[]): Float32Array {
    const n = this.vocabulary.sequenceLength;
    const x = new Float32Array(texts.length * n);
    texts.forEach((t, i) => this.encodeInto(t, x, i * n));
    return x;
  }

  /** A text dataset as a Dataset of token ids (featureShape [sequenceLength]). */
  toDataset(data: TextDataset): Dataset {
    if (data.texts.length !== data.labels.length) throw new FedtuneError('data', `${data.texts.length} texts but ${data.labels.length} labels`);
    return { x: this.encodeAll(data.texts), y: Int32Array.from(data.labels), featureShape: [this.vocabulary.sequenceLength], numClasses: data.classNames.length };
  }
}
