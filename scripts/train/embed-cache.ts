/**
 * A persistent embedding cache for training runs: one append-only binary file per encoder version and precision
 * under `.cache/train/` (int8 embeddings differ from fp32 ones, so they never share a file). Each record is `[sha256 key (32 bytes)][u16 vector count][count × dim float32]`, so a rerun
 * only embeds texts it has not seen. A truncated tail (an interrupted run) is ignored.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QUANTIZER_VERSION, type Encoder } from '../../classifiers/encoder/index.js';

const keyOf = (kind: string, text: string): string =>
  createHash('sha256').update(kind).update('\0').update(text).digest('hex');

export class EmbeddingCache {
  private readonly map = new Map<string, Float32Array[]>();
  private readonly file: string;

  constructor(
    private readonly encoder: Encoder,
    dir: string,
  ) {
    mkdirSync(dir, { recursive: true });
    // fp32 keeps the name it had before precisions existed, so caches of earlier training runs stay valid.
    // The quantizer version names the int8 scheme (per-row activations since q3), so no earlier scheme's cache is reused.
    const precision = encoder.precision === 'fp32' ? '' : `-${encoder.precision}-q${QUANTIZER_VERSION}`;
    this.file = join(dir, `embeddings-${encoder.version}${precision}.bin`);
    if (existsSync(this.file)) this.load(readFileSync(this.file));
  }

  get size(): number {
    return this.map.size;
  }

  private load(buf: Buffer): void {
    const dim = this.encoder.dim;
    for (let off = 0; off + 34 <= buf.length;) {
      const key = buf.subarray(off, off + 32).toString('hex');
      const count = buf.readUInt16LE(off + 32);
      const end = off + 34 + count * dim * 4;
      if (end > buf.length) break;
      const data = new Float32Array(buf.buffer.slice(buf.byteOffset + off + 34, buf.byteOffset + end));
      this.map.set(
        key,
        Array.from({ length: count }, (_, i) => data.subarray(i * dim, (i + 1) * dim)),
      );
      off = end;
    }
  }

  private save(key: string, vectors: Float32Array[]): void {
    const dim = this.encoder.dim;
    const buf = Buffer.alloc(34 + vectors.length * dim * 4);
    Buffer.from(key, 'hex').copy(buf, 0);
    buf.writeUInt16LE(vectors.length, 32);
    vectors.forEach((v, i) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(buf, 34 + i * dim * 4));
    appendFileSync(this.file, buf);
    this.map.set(key, vectors);
  }

  /** First-window embeddings (what `embed` returns), in order. */
  async embed(texts: readonly string[], progress?: (done: number) => void): Promise<Float32Array[]> {
    return this.run(
      texts,
      'first',
      async (batch) => this.encoder.embed(batch).then((vs) => vs.map((v) => [v])),
      progress,
    ).then((r) => r.map((v) => v[0]));
  }

  /** All windows of each text, as the `max`-pooled heads read them at run time. */
  async windows(
    texts: readonly string[],
    maxChunks: number,
    progress?: (done: number) => void,
  ): Promise<Float32Array[][]> {
    // A text shorter than one window has one window, equal to its first-window embedding.
    const long = texts.filter((t) => this.encoder.tokenize(t).length >= this.encoder.maxTokens);
    const short = texts.filter((t) => this.encoder.tokenize(t).length < this.encoder.maxTokens);
    const first = new Map((await this.embed(short, progress)).map((v, i) => [short[i], [v]]));
    const many = await this.run(
      long,
      `chunks${maxChunks}`,
      (batch) => Promise.all(batch.map((t) => this.encoder.embedChunks(t, { maxChunks }))),
      progress,
    );
    const byText = new Map(long.map((t, i) => [t, many[i]]));
    return texts.map((t) => {
      const windows = first.get(t) ?? byText.get(t);
      if (!windows) throw new Error(`no windows embedded for a text of ${t.length} characters`);
      return windows;
    });
  }

  private async run(
    texts: readonly string[],
    kind: string,
    compute: (batch: string[]) => Promise<Float32Array[][]>,
    progress?: (done: number) => void,
  ): Promise<Float32Array[][]> {
    const keys = texts.map((t) => keyOf(kind, t));
    const missing = [
      ...new Set(
        keys
          .map((k, i) => (this.map.has(k) ? -1 : i))
          .filter((i) => i >= 0)
          .map((i) => texts[i]),
      ),
    ];
    const batchSize = 64;
    for (let i = 0; i < missing.length; i += batchSize) {
      const batch = missing.slice(i, i + batchSize);
      const vectors = await compute(batch);
      batch.forEach((t, j) => this.save(keyOf(kind, t), vectors[j]));
      progress?.(Math.min(missing.length, i + batchSize));
    }
    return keys.map((k) => {
      const vectors = this.map.get(k);
      if (!vectors) throw new Error(`embedding cache: ${k} was computed but not stored`);
      return vectors;
    });
  }
}
