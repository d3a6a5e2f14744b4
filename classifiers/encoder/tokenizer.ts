/**
 * The Universal Sentence Encoder lite tokenizer, reproducing the reference in `@energetic-ai/embeddings`
 * id for id: NFKC, `▁` before the text and for every space, a best-score segmentation over the
 * SentencePiece vocabulary (unknown symbols become id 0, runs of them collapse into one).
 *
 * The reference is quadratic in the text length (it slices the symbol array at every position). This one
 * runs the same dynamic programme forward, with the same float arithmetic and tie-breaking, and stops
 * once it has `maxTokens` tokens. That is exact because no vocabulary piece holds `▁` past its first symbol,
 * so every `▁` is a token boundary on the best path and the tokens before it never depend on what follows.
 */
import type { Vocabulary } from './weights.js';

const SEPARATOR = 0x2581; // ▁
/** Ids 0–5 are reserved (unknown, <s>, </s>, extra tokens) and are never produced by matching. */
const RESERVED_SYMBOLS = 6;
export const UNKNOWN_ID = 0;

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Vocabulary id of the piece ending here, or -1. A later duplicate piece overwrites an earlier one. */
  id: number;
}

export interface EncodeOptions {
  /** Stop after this many tokens (the model clips to 128 anyway). Default: no limit. */
  maxTokens?: number;
}

/**
 * @example
 * const tokenizer = new Tokenizer(await loadVocabulary());
 * tokenizer.encode('Hello world'); // [341, 4125, 311] style ids, identical to the reference
 */
export class Tokenizer {
  private readonly root: TrieNode = { children: new Map(), id: -1 };
  private readonly scores: Float64Array;
  private readonly lengths: Int32Array;
  private readonly maxPieceSymbols: number;

  constructor(vocabulary: Vocabulary) {
    if (vocabulary.length <= RESERVED_SYMBOLS) throw new Error('vocabulary is too small');
    this.scores = Float64Array.from(vocabulary, ([, score]) => score);
    // The reference steps back by the piece's UTF-16 length; this equals its symbol count for this
    // vocabulary (checked below), so code points and UTF-16 units cannot drift apart.
    this.lengths = Int32Array.from(vocabulary, ([piece]) => piece.length);
    let longest = 1;
    for (let id = RESERVED_SYMBOLS; id < vocabulary.length; id++) {
      const symbols = Array.from(vocabulary[id][0], (c) => c.codePointAt(0) ?? 0);
      if (symbols.length !== vocabulary[id][0].length) throw new Error(`piece ${id} has astral symbols; unsupported`);
      if (symbols.indexOf(SEPARATOR, 1) > 0)
        throw new Error(`piece ${id} holds ▁ after its start; early stop would be inexact`);
      longest = Math.max(longest, symbols.length);
      let node = this.root;
      for (const symbol of symbols) {
        let next = node.children.get(symbol);
        if (!next) node.children.set(symbol, (next = { children: new Map(), id: -1 }));
        node = next;
      }
      if (symbols.length > 0) node.id = id;
    }
    if (vocabulary[UNKNOWN_ID][0].length !== 1) throw new Error('the unknown piece must be one UTF-16 unit long');
    this.maxPieceSymbols = longest;
  }

  /** Token ids of `text`, equal to the reference's `encode(text).slice(0, maxTokens)`. */
  encode(text: string, { maxTokens = Infinity }: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (maxTokens <= 0) return out;
    const state: DpState = { symbols: [], best: [0], words: [0], pending: [], boundary: 0 };
    // NFKC(a + ' ' + b) === NFKC(a) + ' ' + NFKC(b): a space is a stable normalisation boundary, so the
    // text can be normalised one space-separated word at a time and never past the token budget.
    let start = 0;
    let sawSymbols = false;
    for (;;) {
      const space = text.indexOf(' ', start);
      const word = (space < 0 ? text.slice(start) : text.slice(start, space)).normalize('NFKC');
      if (space >= 0 || word.length > 0 || sawSymbols) {
        sawSymbols = true;
        this.feed(state, word);
        this.flush(state, out);
        if (out.length >= maxTokens) return out.slice(0, maxTokens);
      }
      if (space < 0) return out;
      start = space + 1;
    }
  }

  /** Appends `▁word` and runs the forward pass over the new positions. */
  private feed(state: DpState, word: string): void {
    const { symbols, best, words, pending } = state;
    const from = symbols.length;
    symbols.push(SEPARATOR);
    for (const ch of word) {
      const cp = ch.codePointAt(0) ?? 0;
      symbols.push(cp === 0x20 ? SEPARATOR : cp);
    }
    for (let i = from; i < symbols.length; i++) {
      best.push(0);
      words.push(0);
      pending.push([]);
    }
    for (let i = from; i < symbols.length; i++) {
      // Matches starting at i, shortest first, exactly as the reference's commonPrefixSearch.
      let node = this.root.children.get(symbols[i]);
      let matched = false;
      const limit = Math.min(symbols.length, i + this.maxPieceSymbols);
      for (let j = i; j < limit && node; j++) {
        if (node.id >= 0) {
          pending[j - from].push(i, node.id);
          matched = true;
        }
        node = j + 1 < limit ? node.children.get(symbols[j + 1]) : undefined;
      }
      if (!matched) pending[i - from].push(i, UNKNOWN_ID);
      // Every piece ending at i + 1 starts at or before i, so position i + 1 can be settled now. Candidates
      // are in ascending start order (the reference iterates object keys), and ties go to the later one.
      const end = i + 1;
      const candidates = pending[i - from];
      for (let c = 0; c < candidates.length; c += 2) {
        const id = candidates[c + 1];
        const score = this.scores[id] + best[candidates[c]];
        if (best[end] === 0 || score >= best[end]) {
          best[end] = score;
          words[end] = id;
        }
      }
    }
    pending.length = 0;
  }

  /** Walks back from the end to the last boundary and appends that span's tokens to `out`. */
  private flush(state: DpState, out: number[]): void {
    const { symbols, words } = state;
    const span: number[] = [];
    let iter = symbols.length;
    while (iter > state.boundary) {
      span.push(words[iter]);
      iter -= this.lengths[words[iter]];
    }
    if (iter !== state.boundary) throw new Error('tokenizer invariant broken: a piece crossed a ▁ boundary');
    state.boundary = symbols.length;
    let previousUnknown = false;
    for (let k = span.length - 1; k >= 0; k--) {
      const id = span[k];
      if (!(previousUnknown && id === UNKNOWN_ID)) out.push(id);
      previousUnknown = id === UNKNOWN_ID;
    }
  }
}

interface DpState {
  /** Code points of the processed text so far (`▁` for spaces). */
  symbols: number[];
  /** best[e]: best score of a segmentation of symbols[0, e); words[e]: the id of its last piece. */
  best: number[];
  words: number[];
  /** For the positions being fed: flat (start, id) pairs of pieces ending at `from + k + 1`, at index k. */
  pending: number[][];
  /** Symbols before this index have been emitted as tokens. */
  boundary: number;
}
