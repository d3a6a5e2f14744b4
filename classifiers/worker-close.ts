import type { Worker } from 'node:worker_threads';

/**
 * Asks an inference worker to finish its running batch and exit, and waits for it up to `graceMs`. A worker
 * is never terminated mid-run (onnxruntime aborts the whole process if it is); one still busy after the grace
 * period is unref'd and left to finish on its own.
 *
 * @example await closeWorker(worker, { type: 'close' }, 5000);
 */
export async function closeWorker(worker: Worker, request: unknown, graceMs: number): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.postMessage(request);
  worker.ref();
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, graceMs);
    timer.unref();
  });
  await Promise.race([exited, grace]);
  clearTimeout(timer);
  worker.unref();
}
