/**
 * The generator the configuration asks for when it is not the HTTP upstream: `generator.type: local` loads the
 * GGUF model here (the gateway's start-up waits for it). Returns undefined for `http`, which server.ts builds.
 */
import type winston from 'winston';
import type { Config } from '../../gateway/config.js';
import { LocalGenerator } from './local-generator.js';

export async function openConfiguredGenerator(
  config: Config,
  logger: winston.Logger,
): Promise<LocalGenerator | undefined> {
  const { type, model, ...settings } = config.generator;
  if (type !== 'local' || !model) return undefined;
  if (config.upstream.url)
    logger.warn('generator.type is local: upstream.url is not used', { upstream: config.upstream.url });
  const started = performance.now();
  logger.info('loading the local model', { model, gpu: settings.gpu, context_size: settings.contextSize });
  const gen = await LocalGenerator.open({ ...settings, model }, (message, meta) => logger.warn(message, meta));
  const rt = gen.runtime;
  logger.info(
    rt.backend === 'cpu' ? 'local model loaded on the CPU' : `local model loaded on the GPU (${rt.backend})`,
    {
      name: rt.name,
      backend: rt.backend,
      gpu_layers: rt.gpuLayers,
      context_size: rt.contextSize,
      sequences: settings.sequences,
      threads: rt.context.currentThreads,
      chat_template: rt.chatWrapper.wrapperName,
      load_ms: Math.round(performance.now() - started),
    },
  );
  return gen;
}
