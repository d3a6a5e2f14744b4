/**
 * One sentence encoder per process, shared by every `onnx` classifier: reference-counted, created on first
 * use, closed when the last user releases it. A failed start is not cached, so the next call retries.
 */
import type { Encoder } from '../encoder/index.js';

let current: Promise<Encoder> | undefined;
let users = 0;

/** Returns the shared encoder, starting it if needed; pair every call with `releaseEncoder()`. */
export async function acquireEncoder(): Promise<Encoder> {
  users++;
  // Imported on first use, so loading the classifier registry does not load onnxruntime.
  const pending = (current ??= import('../encoder/index.js').then(({ Encoder }) => Encoder.create()));
  try {
    return await pending;
  } catch (error) {
    users--;
    if (current === pending) current = undefined;
    throw error;
  }
}

/** Drops one reference; the last one closes the encoder. */
export async function releaseEncoder(): Promise<void> {
  if (users === 0) return;
  users--;
  if (users > 0 || !current) return;
  const closing = current;
  current = undefined;
  await (await closing.catch(() => undefined))?.close();
}
