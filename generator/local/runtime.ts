/**
 * Loads a GGUF model through node-llama-cpp: the native runtime (prebuilt binaries from npm, never built or
 * downloaded here), the model, one context holding `sequences` sequences, and the chat template from the model's
 * own metadata. Any failure becomes a LocalModelError naming the path and the reason, so start-up stops clearly.
 */
import { openSync, readSync, closeSync, statSync } from 'node:fs';
import {
  getLlama,
  LlamaLogLevel,
  resolveChatWrapper,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaModel,
} from 'node-llama-cpp';
import { localModelName, type LocalGeneratorConfig } from './config.js';

export class LocalModelError extends Error {
  override name = 'LocalModelError';
}

export interface LocalRuntime {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  chatWrapper: ChatWrapper;
  /** The name the model answers to. */
  name: string;
  /** Tokens of context per sequence. */
  contextSize: number;
  /** `cpu`, or the GPU backend in use (`cuda`, `vulkan`, `metal`). */
  backend: string;
  gpuLayers: number;
  close(): Promise<void>;
}

/** What a start-up log line says about the loaded runtime. */
export type RuntimeLog = (message: string, meta: Record<string, unknown>) => void;

const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Checks the file before the native loader sees it: it exists, is a file, and starts with GGUF's magic. */
function checkFile(path: string): void {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new LocalModelError(`local model ${path}: not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof LocalModelError) throw e;
    const code = (e as { code?: string }).code;
    throw new LocalModelError(
      `local model ${path}: ${code === 'ENOENT' ? 'file not found' : reason(e)} (set GATEWAY_LOCAL_MODEL or generator.model)`,
    );
  }
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (size < 4 || head.toString('latin1') !== 'GGUF')
    throw new LocalModelError(
      `local model ${path}: not a GGUF file (it starts with ${JSON.stringify(head.subarray(0, Math.min(4, size)).toString('latin1'))}, not "GGUF")`,
    );
}

/**
 * Loads the model; resolves once it can generate. The native runtime's own log goes to `log` at warn level and above.
 *
 * @example
 * const rt = await loadRuntime({ ...GeneratorConfigSchema.parse({}), model: 'qwen2.5-0.5b-instruct-q4_k_m.gguf' });
 */
export async function loadRuntime(config: LocalGeneratorConfig, log: RuntimeLog = () => {}): Promise<LocalRuntime> {
  const path = config.model;
  checkFile(path);
  // llama.cpp says why a load failed in its log, while the thrown error says only "Failed to load model".
  const nativeErrors: string[] = [];
  let llama: Llama;
  try {
    llama = await getLlama({
      gpu: config.gpu === 'cpu' ? false : config.gpu,
      // Prebuilt binaries only: never compile llama.cpp or download anything at run time.
      build: 'never',
      skipDownload: true,
      progressLogs: false,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trim();
        if (!text) return;
        if (level === LlamaLogLevel.error) nativeErrors.push(text);
        log('llama.cpp', { level, message: text });
      },
    });
  } catch (e) {
    throw new LocalModelError(`local model ${path}: the ${config.gpu} backend could not be loaded: ${reason(e)}`);
  }
  let model: LlamaModel | undefined;
  try {
    model = await llama.loadModel({ modelPath: path, gpuLayers: config.gpuLayers });
    const contextSize = Math.min(config.contextSize, model.trainContextSize);
    const context = await model.createContext({
      contextSize,
      sequences: config.sequences,
      threads: config.threads || undefined,
      // Never fall back to a smaller context silently: the configured size is what requests are checked against.
      ignoreMemorySafetyChecks: false,
      failedCreationRemedy: false,
    });
    const chatWrapper = resolveChatWrapper(model);
    const runtime: LocalRuntime = {
      llama,
      model,
      context,
      chatWrapper,
      name: localModelName(config),
      contextSize: context.contextSize,
      backend: llama.gpu === false ? 'cpu' : llama.gpu,
      gpuLayers: model.gpuLayers,
      async close() {
        await context.dispose();
        await model?.dispose();
        await llama.dispose();
      },
    };
    return runtime;
  } catch (e) {
    await model?.dispose().catch(() => {});
    await llama.dispose().catch(() => {});
    const native = [...new Set(nativeErrors)].slice(0, 3).join('; ');
    throw new LocalModelError(
      `local model ${path}: cannot load: ${reason(e)}${native ? ` (llama.cpp: ${native})` : ''}`,
      {
        cause: e,
      },
    );
  }
}
