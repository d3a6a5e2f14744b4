/**
 * Tokenization for any Hugging Face `tokenizer.json` (WordPiece, BPE, Unigram; BERT, RoBERTa, DeBERTa,
 * Llama …) through the maintained `@huggingface/tokenizers` package, plus the one thing it lacks:
 * truncation to the model's window that keeps the special tokens, as HF's `truncation=True` does.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { HfModelError } from './errors.js';

interface HfEncoding {
  ids: number[];
  token_type_ids?: number[];
}
interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean; return_token_type_ids?: boolean | null }): HfEncoding;
}
// The package's declarations use extensionless relative imports, which NodeNext resolution cannot follow
// (everything would be `any`); this is the part of its API we rely on.
const HfTokenizerClass = Tokenizer as unknown as new (tokenizer: object, config: object) => HfTokenizer;

/** One text, ready for the model. */
export interface Encoded {
  ids: number[];
  /** Segment ids (`token_type_ids`), as the tokenizer's post-processor assigns them. */
  typeIds: number[];
  /** True when the text was longer than the model's window (or than `maxChars`). */
  truncated: boolean;
}

export interface SequenceTokenizerOptions {
  /** Most tokens per text, special tokens included. */
  maxLength: number;
  /**
   * Only this many leading UTF-16 units are tokenized, which bounds the work on huge texts. Default 32 ×
   * maxLength: a text reaches its window long before that unless its words average more than 32 characters.
   */
  maxChars?: number;
}

const PROBE = 'hello world';
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * @example
 * const tok = new SequenceTokenizer(JSON.parse(tokenizerJson), {}, { maxLength: 128 });
 * tok.encode('hello world').ids; // [101, 7592, 2088, 102] for a BERT uncased vocabulary
 */
export class SequenceTokenizer {
  readonly maxLength: number;
  readonly maxChars: number;
  private readonly tokenizer: HfTokenizer;
  /** The special tokens the post-processor puts around a single text, found by probing it once. */
  private readonly layout:
    { prefix: number[]; suffix: number[]; prefixTypes: number[]; suffixTypes: number[]; type: number } | undefined;

  /** Throws `HfModelError` naming `file` when the tokenizer cannot be built or cannot fit `maxLength`. */
  constructor(
    tokenizerJson: unknown,
    tokenizerConfig: unknown,
    { maxLength, maxChars = 32 * maxLength }: SequenceTokenizerOptions,
    file = 'tokenizer.json',
  ) {
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson))
      throw new HfModelError(file, 'is not a Hugging Face tokenizer (no "model" section)');
    let probe: HfEncoding;
    let plain: number[];
    try {
      this.tokenizer = new HfTokenizerClass(tokenizerJson, (tokenizerConfig ?? {}) as object);
      probe = this.tokenizer.encode(PROBE, { add_special_tokens: true, return_token_type_ids: true });
      plain = this.tokenizer.encode(PROBE, { add_special_tokens: false }).ids;
    } catch (error) {
      throw new HfModelError(
        file,
        `cannot be used by @huggingface/tokenizers: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    this.maxLength = maxLength;
    this.maxChars = maxChars;
    const types = probe.token_type_ids ?? probe.ids.map(() => 0);
    let start = -1;
    for (let s = 0; s + plain.length <= probe.ids.length && start < 0; s++)
      if (same(probe.ids.slice(s, s + plain.length), plain)) start = s;
    // A post-processor that does more than wrap the text in fixed tokens: truncate its output from the right.
    this.layout =
      start < 0
        ? undefined
        : {
            prefix: probe.ids.slice(0, start),
            suffix: probe.ids.slice(start + plain.length),
            prefixTypes: types.slice(0, start),
            suffixTypes: types.slice(start + plain.length),
            type: types[start] ?? 0,
          };
    const specials = this.layout ? this.layout.prefix.length + this.layout.suffix.length : 0;
    if (maxLength <= specials)
      throw new HfModelError(file, `maxLength ${maxLength} leaves no room for text next to ${specials} special tokens`);
  }

  /** Tokens the model reads for `text`: special tokens, then the text's tokens cut to fit `maxLength`. */
  encode(text: string): Encoded {
    let capped = text;
    if (text.length > this.maxChars) {
      const code = text.charCodeAt(this.maxChars - 1);
      // never split a surrogate pair
      capped = text.slice(0, code >= 0xd800 && code <= 0xdbff ? this.maxChars - 1 : this.maxChars);
    }
    const layout = this.layout;
    if (!layout) {
      const full = this.tokenizer.encode(capped, { add_special_tokens: true, return_token_type_ids: true });
      const ids = full.ids.slice(0, this.maxLength);
      const typeIds = (full.token_type_ids ?? full.ids.map(() => 0)).slice(0, this.maxLength);
      return { ids, typeIds, truncated: capped !== text || full.ids.length > this.maxLength };
    }
    const content = this.tokenizer.encode(capped, { add_special_tokens: false }).ids;
    const room = this.maxLength - layout.prefix.length - layout.suffix.length;
    const kept = content.length > room ? content.slice(0, room) : content;
    return {
      ids: [...layout.prefix, ...kept, ...layout.suffix],
      typeIds: [...layout.prefixTypes, ...kept.map(() => layout.type), ...layout.suffixTypes],
      truncated: capped !== text || content.length > room,
    };
  }
}
