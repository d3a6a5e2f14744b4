/**
 * Embeds token-id sequences with an encoder `.onnx` file through onnxruntime-node (the gateway's runtime), in
 * length order and batches of 64 so padding stays small, and writes one float32 `[n, 512]` file in input order.
 * Used for the frozen baselines' features and to score the exported fine-tuned encoder.
 */
import { writeFileSync } from 'node:fs';
import { createSession, runSession } from '../../classifiers/encoder/session.js';

const DIM = 512;
const BATCH = 64;

/**
 * @example
 * await embedToFile('.cache/encoder/use-lite-0.2.0-b1.onnx', [[341, 4125]], '.cache/train-encoder/frozen.f32');
 */
export async function embedToFile(modelPath: string, ids: number[][], path: string): Promise<void> {
  const { session } = await createSession(modelPath, { device: 'cpu' });
  try {
    const out = new Float32Array(ids.length * DIM);
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
    const started = performance.now();
    for (let k = 0; k < order.length; k += BATCH) {
      const chunk = order.slice(k, k + BATCH);
      const sequence = Math.max(1, ...chunk.map((i) => ids[i].length));
      const idsT = new BigInt64Array(chunk.length * sequence);
      const mask = new BigInt64Array(chunk.length * sequence);
      chunk.forEach((i, r) =>
        ids[i].forEach((id, t) => {
          idsT[r * sequence + t] = BigInt(id);
          mask[r * sequence + t] = 1n;
        }),
      );
      const vectors = await runSession(session, { ids: idsT, mask, batch: chunk.length, sequence });
      chunk.forEach((i, r) => out.set(vectors.subarray(r * DIM, (r + 1) * DIM), i * DIM));
      if ((k / BATCH) % 50 === 0) {
        const rate = (k / ((performance.now() - started) / 1000)).toFixed(0);
        process.stdout.write(`\r  embedded ${k}/${ids.length} (${rate}/s)   `);
      }
    }
    process.stdout.write(
      `\r  embedded ${ids.length} texts in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
    );
    writeFileSync(path, out);
  } finally {
    await session.release();
  }
}
