/**
 * `npm run model:tiny -- --out FILE [--seed N]`: writes a tiny llama GGUF with random weights and a real vocabulary
 * (generator/local/tiny-model.ts), to try GATEWAY_GENERATOR=local without downloading a model.
 */
import { intOption, parseCli, reportCliError, UsageError } from '../cli/args.js';
import { writeTinyModel } from '../generator/local/tiny-model.js';

const USAGE = `usage: npm run model:tiny -- --out FILE [--seed N]

  Writes a tiny llama-architecture GGUF (random weights, real SentencePiece vocabulary, ChatML template).
  Its answers are gibberish; it is for tests, benchmarks and trying the local generator's wiring.`;

try {
  const { values } = parseCli(process.argv.slice(2), { out: { type: 'string' }, seed: { type: 'string' } });
  if (!values.out) throw new UsageError('--out FILE is required');
  const seed = values.seed === undefined ? 1 : intOption('seed', values.seed);
  const bytes = writeTinyModel(values.out, { seed });
  process.stdout.write(`wrote ${values.out} (${Math.round(bytes / 1024)} KB)\n`);
} catch (e) {
  process.exit(reportCliError(e, { name: 'model:tiny', usage: USAGE }));
}
