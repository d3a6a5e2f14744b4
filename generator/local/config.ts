/**
 * The `generator` section of the gateway's configuration: which generator answers (`http`: the OpenAI-compatible
 * upstream in `upstream`; `local`: a GGUF model run in this process) and the local runtime's settings. Kept here so
 * gateway/config.ts only mounts it.
 */
import { basename } from 'node:path';
import { z } from 'zod';

export const GPU_CHOICES = ['auto', 'cpu', 'cuda', 'vulkan', 'metal'] as const;

export const GeneratorConfigSchema = z
  .strictObject({
    /** `http` (default): the upstream in `upstream.url`. `local`: the GGUF model in `model`, run in this process. */
    type: z.enum(['http', 'local']).default('http'),
    /** Path of a GGUF model file (for `type: local`). */
    model: z.string().min(1).optional(),
    /** The name the model answers to in /v1/models and in answers; default: the file's name without `.gguf`. */
    name: z.string().min(1).optional(),
    /** Tokens of context per sequence (prompt + answer); capped at the model's trained context. */
    contextSize: z.number().int().min(64).default(4096),
    /** `auto`: a GPU when one is usable (said at start), else the CPU. `cpu` never uses a GPU. */
    gpu: z.enum(GPU_CHOICES).default('auto'),
    /** Layers offloaded to the GPU: `auto` (what fits in its memory), `max`, or a number. */
    gpuLayers: z.union([z.literal('auto'), z.literal('max'), z.number().int().min(0)]).default('auto'),
    /** CPU threads for the math; 0: the runtime's choice (every performance core). */
    threads: z.number().int().min(0).default(0),
    /** Sequences generated at once (batched together); more requests wait in the queue. */
    sequences: z.number().int().min(1).max(256).default(4),
    /** Requests that may wait for a free sequence; past it, 429. */
    maxQueued: z.number().int().min(0).default(64),
    /** Sampling defaults for requests that do not set `temperature` / `top_p` (llama.cpp server's defaults). */
    temperature: z.number().min(0).max(2).default(0.8),
    topP: z.number().gt(0).max(1).default(0.95),
  })
  .refine((g) => g.type !== 'local' || g.model, {
    message: 'type local needs a model file (GATEWAY_LOCAL_MODEL=/path/to/model.gguf)',
    path: ['model'],
  })
  .prefault({});

export type GeneratorConfig = z.infer<typeof GeneratorConfigSchema>;
/** The settings the local generator reads, once `type: local` has made `model` required. */
export type LocalGeneratorConfig = Omit<GeneratorConfig, 'type' | 'model'> & { model: string };

/** The model's public name: the configured one, or the file's name without `.gguf`. */
export const localModelName = (c: { model: string; name?: string }) =>
  c.name ?? basename(c.model).replace(/\.gguf$/i, '');

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);
const section = (raw: Raw): Raw => {
  const v = (raw.generator ??= {});
  return isObject(v) ? v : {};
};
const num = (v: string): number | string => (v.trim() !== '' && !Number.isNaN(Number(v)) ? Number(v) : v);
/** `auto`, `max`, or a number of layers. */
const layers = (v: string): number | string => (v === 'auto' || v === 'max' ? v : num(v));

/** Environment overrides for the generator section (merged into gateway/config.ts's table). */
export const GENERATOR_ENV: Record<string, (raw: Raw, v: string) => void> = {
  GATEWAY_GENERATOR: (c, v) => (section(c).type = v),
  GATEWAY_LOCAL_MODEL: (c, v) => (section(c).model = v),
  GATEWAY_LOCAL_MODEL_NAME: (c, v) => (section(c).name = v),
  GATEWAY_LOCAL_CONTEXT_SIZE: (c, v) => (section(c).contextSize = num(v)),
  GATEWAY_LOCAL_GPU: (c, v) => (section(c).gpu = v),
  GATEWAY_LOCAL_GPU_LAYERS: (c, v) => (section(c).gpuLayers = layers(v)),
  GATEWAY_LOCAL_THREADS: (c, v) => (section(c).threads = num(v)),
  GATEWAY_LOCAL_SEQUENCES: (c, v) => (section(c).sequences = num(v)),
  GATEWAY_LOCAL_MAX_QUEUED: (c, v) => (section(c).maxQueued = num(v)),
};

/** Where each of those variables lands, for error messages. */
export const GENERATOR_ENV_PATH: Record<string, string> = {
  'generator.type': 'GATEWAY_GENERATOR',
  'generator.model': 'GATEWAY_LOCAL_MODEL',
  'generator.name': 'GATEWAY_LOCAL_MODEL_NAME',
  'generator.contextSize': 'GATEWAY_LOCAL_CONTEXT_SIZE',
  'generator.gpu': 'GATEWAY_LOCAL_GPU',
  'generator.gpuLayers': 'GATEWAY_LOCAL_GPU_LAYERS',
  'generator.threads': 'GATEWAY_LOCAL_THREADS',
  'generator.sequences': 'GATEWAY_LOCAL_SEQUENCES',
  'generator.maxQueued': 'GATEWAY_LOCAL_MAX_QUEUED',
};
