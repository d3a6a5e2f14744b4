import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { GeneratorConfigSchema, type LocalGeneratorConfig } from '../../generator/local/config.js';
import { writeTinyModel } from '../../generator/local/tiny-model.js';

/** Writes the tiny random-weight model into a temporary folder removed after the file's tests. */
export function tinyModel(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-tiny-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'tiny.gguf');
  writeTinyModel(path);
  return path;
}

/**
 * Settings for tests: one CPU thread (two threads spin against each other on a shared 2-core machine and run
 * ~100x slower), a small context.
 */
export const tinySettings = (model: string, extra: Partial<LocalGeneratorConfig> = {}): LocalGeneratorConfig => ({
  ...GeneratorConfigSchema.parse({}),
  gpu: 'cpu',
  threads: 1,
  contextSize: 512,
  model,
  ...extra,
});

/** A user turn, sampled reproducibly. */
export const ask = (extra: Record<string, unknown> = {}) => ({
  model: 'tiny',
  messages: [{ role: 'user', content: 'Tell me a story about the sea.' }],
  temperature: 1,
  seed: 7,
  ...extra,
});
