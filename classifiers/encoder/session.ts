/**
 * Creating the onnxruntime session: thread counts for a small CPU box, and the CUDA execution provider
 * when its libraries are installed, falling back to CPU.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { ATTENTION_MASK, INPUT_IDS, OUTPUT } from './model-io.js';

export type Device = 'auto' | 'cpu' | 'cuda';

export interface SessionSettings {
  /** 'auto' tries CUDA when its provider library is present and falls back to CPU. Default 'auto'. */
  device?: Device;
  /** Threads for one inference. Default: the number of cores (2 on the reference box). */
  intraOpThreads?: number;
  /**
   * Whether idle intra-op threads spin. Spinning buys little here and takes CPU from the event loop
   * (and, measured on 2 cores, halved throughput), so the default is false.
   */
  allowSpinning?: boolean;
}

export interface LoadedSession {
  session: ort.InferenceSession;
  provider: 'cuda' | 'cpu';
}

function cudaLibraryPresent(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const root = dirname(dirname(require.resolve('onnxruntime-node')));
    return existsSync(join(root, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

export function sessionOptions({
  intraOpThreads = availableParallelism(),
  allowSpinning = false,
}: SessionSettings): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    extra: { session: { intra_op: { allow_spinning: allowSpinning ? '1' : '0' } } },
  };
}

/**
 * Opens the model. With `device: 'cuda'` a CUDA failure is an error; with 'auto' it falls back to CPU.
 * @example
 * const { session, provider } = await createSession('/path/model.onnx', { device: 'auto' });
 */
export async function createSession(modelPath: string, settings: SessionSettings = {}): Promise<LoadedSession> {
  const device = settings.device ?? 'auto';
  const options = sessionOptions(settings);
  if (device === 'cuda' || (device === 'auto' && cudaLibraryPresent())) {
    try {
      const session = await ort.InferenceSession.create(modelPath, { ...options, executionProviders: ['cuda', 'cpu'] });
      return { session, provider: 'cuda' };
    } catch (error) {
      if (device === 'cuda') throw error;
    }
  }
  const session = await ort.InferenceSession.create(modelPath, { ...options, executionProviders: ['cpu'] });
  return { session, provider: 'cpu' };
}

/** One padded batch of token ids, row-major [batch, sequence]. */
export interface BatchInput {
  ids: BigInt64Array;
  mask: BigInt64Array;
  batch: number;
  sequence: number;
}

/** Runs the encoder graph on one batch; returns [batch, dim] embeddings, row-major. */
export async function runSession(
  session: ort.InferenceSession,
  { ids, mask, batch, sequence }: BatchInput,
): Promise<Float32Array> {
  const feeds = {
    [INPUT_IDS]: new ort.Tensor('int64', ids, [batch, sequence]),
    [ATTENTION_MASK]: new ort.Tensor('int64', mask, [batch, sequence]),
  };
  const result = await session.run(feeds);
  const output = result[OUTPUT];
  if (!output || !(output.data instanceof Float32Array))
    throw new Error(`the encoder produced no float32 "${OUTPUT}" output`);
  return output.data;
}
