/**
 * The encoder's worker thread: owns one onnxruntime session and runs batches posted by `backend.ts`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, runSession } from './session.js';
import type { BatchInput, SessionSettings } from './session.js';

export type WorkerRequest = { type: 'run'; id: number; input: BatchInput } | { type: 'close' };
export type WorkerReply =
  | { type: 'ready'; provider: 'cuda' | 'cpu' }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; data: Float32Array }
  | { type: 'error'; id: number; message: string };

interface WorkerData {
  modelPath: string;
  settings: SessionSettings;
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

async function main(port: NonNullable<typeof parentPort>, { modelPath, settings }: WorkerData): Promise<void> {
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
  let loaded;
  try {
    loaded = await createSession(modelPath, settings);
  } catch (error) {
    post({ type: 'load-error', message: message(error) });
    return;
  }
  const { session, provider } = loaded;
  // Batches run one after another: the session already uses every core it was given.
  let chain = Promise.resolve();
  port.on('message', (request: WorkerRequest) => {
    if (request.type === 'close') {
      // Let the running batch finish: terminating a worker inside session.run aborts the whole process.
      chain = chain
        .then(() => session.release())
        .catch(() => {})
        .finally(() => port.close());
      return;
    }
    chain = chain.then(async () => {
      try {
        const data = await runSession(session, request.input);
        const copy = data.slice(); // the output may live in onnxruntime's memory; send our own buffer
        post({ type: 'result', id: request.id, data: copy }, [copy.buffer]);
      } catch (error) {
        post({ type: 'error', id: request.id, message: message(error) });
      }
    });
  });
  post({ type: 'ready', provider });
}

if (parentPort) void main(parentPort, workerData as WorkerData);
