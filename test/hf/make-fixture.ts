/**
 * Writes the tokenizer the hf tests run on by default: all-MiniLM-L6-v2's tokenizer.json with its vocabulary cut
 * to the tokens that the tests' own texts produce (ids unchanged), so `npm test` needs nothing outside the
 * repository. WordPiece picks the longest piece in its vocabulary, and every piece the full vocabulary picks for
 * those texts is kept, so the cut tokenizer gives them the same ids; `npm run test:shared` runs the same suites on
 * the full file to keep that true.
 *
 *   node dist/test/hf/make-fixture.js ../shared/data/tokenizers/all-MiniLM-L6-v2
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { FIXTURE_DIR } from './fixture.js';

const SOURCE_DIR = fileURLToPath(new URL('../../../test/hf/', import.meta.url));
const from = process.argv[2];
if (!from) {
  process.stderr.write('usage: node dist/test/hf/make-fixture.js <folder with the full tokenizer.json>\n');
  process.exit(2);
}

/** Every string literal in the hf tests and their fixture: the texts they tokenize, and then some. */
const texts = readdirSync(SOURCE_DIR)
  .filter((f) => f.endsWith('.ts'))
  .flatMap((f) => [...readFileSync(join(SOURCE_DIR, f), 'utf8').matchAll(/'([^'\n]*)'|"([^"\n]*)"|`([^`$]*)`/g)])
  .map((m) => m[1] ?? m[2] ?? m[3] ?? '');

const full = JSON.parse(readFileSync(join(from, 'tokenizer.json'), 'utf8')) as {
  model: { vocab: Record<string, number> };
  added_tokens: { id: number }[];
};
const config = JSON.parse(readFileSync(join(from, 'tokenizer_config.json'), 'utf8')) as object;
const tokenizer = new Tokenizer(full, config);
const keep = new Set<number>(full.added_tokens.map((t) => t.id));
for (const text of texts) for (const id of tokenizer.encode(text, { add_special_tokens: false }).ids) keep.add(id);

const vocab = Object.fromEntries(Object.entries(full.model.vocab).filter(([, id]) => keep.has(id)));
writeFileSync(
  join(FIXTURE_DIR, 'tokenizer.json'),
  `${JSON.stringify({ ...full, model: { ...full.model, vocab } }, null, 1)}\n`,
);
writeFileSync(join(FIXTURE_DIR, 'tokenizer_config.json'), readFileSync(join(from, 'tokenizer_config.json')));
process.stdout.write(`kept ${Object.keys(vocab).length} of ${Object.keys(full.model.vocab).length} tokens\n`);
