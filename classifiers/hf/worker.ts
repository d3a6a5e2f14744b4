/**
 * The `hf-sequence` worker thread: owns the tokenizer and one onnxruntime session. onnxruntime-node's
 * `session.run` blocks its thread (see classifiers/encoder/README.md), and a pure-JS tokenizer on a long
 * text takes milliseconds, so both live here and the event loop only posts texts and receives logits.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { planGroups } from '../encoder/grouping.js';
import { createSession } from '../encoder/session.js';
import type { SessionSettings } from '../encoder/session.js';
import { HfModelError, messageOf } from './errors.js';
import { SequenceTokenizer } from './tokenize.js';
import type { Encoded } from './tokenize.js';

export interface HfWorkerData {
  modelPath: string;
  tokenizerPath: string;
  tokenizerConfigPath?: string;
  maxLength: number;
  maxChars: number;
  padId: number;
  numLabels: number;
  settings: SessionSettings;
}

export type HfWorkerRequest = { type: 'run'; id: number; texts: string[] } | { type: 'close' };
/** `logits` is [texts, numLabels] row-major; `tokens` and `truncated` have one entry per text. */
export type HfBatchResult = { logits: Float32Array; tokens: Uint32Array; truncated: Uint8Array };
export type HfWorkerReply =
  | { type: 'ready'; provider: 'cuda' | 'cpu'; inputs: string[]; output: string }
  | { type: 'load-error'; file: string; problem: string }
  | ({ type: 'result'; id: number } & HfBatchResult)
  | { type: 'error'; id: number; message: string };

const FEEDABLE = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
type Feedable = (typeof FEEDABLE)[number];

/** The session plus what it takes: which inputs, in which integer type, and which output holds the logits. */
class Model {
  private readonly types = new Map<Feedable, 'int64' | 'int32'>();
  readonly output: string;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly data: HfWorkerData,
  ) {
    const file = data.modelPath;
    session.inputNames.forEach((name, i) => {
      if (!(FEEDABLE as readonly string[]).includes(name))
        throw new HfModelError(file, `input "${name}" is not one hf-sequence can feed (${FEEDABLE.join(', ')})`);
      const meta = session.inputMetadata[i];
      const type = meta?.isTensor ? meta.type : 'int64';
      if (type !== 'int64' && type !== 'int32')
        throw new HfModelError(file, `input "${name}" is ${type}; token inputs must be int64 or int32`);
      this.types.set(name as Feedable, type);
    });
    if (!this.types.has('input_ids'))
      throw new HfModelError(file, `the graph has no "input_ids" input (it has: ${session.inputNames.join(', ')})`);
    const [first] = session.outputNames;
    if (first === undefined) throw new HfModelError(file, 'the graph has no outputs');
    this.output = session.outputNames.includes('logits') ? 'logits' : first;
  }

  inputs(): string[] {
    return [...this.types.keys()];
  }

  private tensor(name: Feedable, values: number[], batch: number, sequence: number): ort.Tensor {
    const dims = [batch, sequence];
    return this.types.get(name) === 'int32'
      ? new ort.Tensor('int32', Int32Array.from(values), dims)
      : new ort.Tensor(
          'int64',
          BigInt64Array.from(values, (v) => BigInt(v)),
          dims,
        );
  }

  /** Runs rows padded to one length; returns their logits, [rows, numLabels]. */
  async runPadded(rows: Encoded[]): Promise<Float32Array> {
    const { padId, numLabels, modelPath } = this.data;
    const sequence = Math.max(1, ...rows.map((r) => r.ids.length));
    const ids: number[] = [];
    const mask: number[] = [];
    const typeIds: number[] = [];
    for (const row of rows) {
      const pad = sequence - row.ids.length;
      ids.push(...row.ids, ...new Array<number>(pad).fill(padId));
      mask.push(...row.ids.map(() => 1), ...new Array<number>(pad).fill(0));
      typeIds.push(...row.typeIds, ...new Array<number>(pad).fill(0));
    }
    const feeds: Record<string, ort.Tensor> = {};
    const values: Record<Feedable, number[]> = { input_ids: ids, attention_mask: mask, token_type_ids: typeIds };
    for (const name of this.types.keys()) feeds[name] = this.tensor(name, values[name], rows.length, sequence);
    const result = await this.session.run(feeds);
    const out = result[this.output];
    if (!out || out.type !== 'float32')
      throw new HfModelError(modelPath, `output "${this.output}" is not a float32 tensor`);
    const data = out.data as Float32Array;
    if (data.length !== rows.length * numLabels) {
      throw new HfModelError(
        modelPath,
        `output "${this.output}" has ${data.length / rows.length} values per text, ` +
          `but config.json's id2label names ${numLabels} labels`,
      );
    }
    return data;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

async function runBatch(
  model: Model,
  tokenizer: SequenceTokenizer,
  texts: string[],
  numLabels: number,
): Promise<HfBatchResult> {
  const encoded = texts.map((t) => tokenizer.encode(t));
  const logits = new Float32Array(texts.length * numLabels);
  // Sorting by length and cutting where it pays keeps one long text from padding every short one.
  for (const group of planGroups(encoded.map((e) => e.ids.length))) {
    const rows = group.map((i) => {
      const row = encoded[i];
      if (!row) throw new Error(`planGroups returned index ${i} for ${encoded.length} texts`);
      return row;
    });
    const data = await model.runPadded(rows);
    group.forEach((i, k) => logits.set(data.subarray(k * numLabels, (k + 1) * numLabels), i * numLabels));
  }
  return {
    logits,
    tokens: Uint32Array.from(encoded, (e) => e.ids.length),
    truncated: Uint8Array.from(encoded, (e) => (e.truncated ? 1 : 0)),
  };
}

async function load(
  data: HfWorkerData,
): Promise<{ model: Model; tokenizer: SequenceTokenizer; provider: 'cuda' | 'cpu' }> {
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as unknown;
  const tokenizer = new SequenceTokenizer(
    read(data.tokenizerPath),
    data.tokenizerConfigPath ? read(data.tokenizerConfigPath) : undefined,
    { maxLength: data.maxLength, maxChars: data.maxChars },
    data.tokenizerPath,
  );
  let loaded;
  try {
    loaded = await createSession(data.modelPath, data.settings);
  } catch (error) {
    throw new HfModelError(data.modelPath, `onnxruntime cannot load it: ${messageOf(error)}`, { cause: error });
  }
  try {
    const model = new Model(loaded.session, data);
    // checks the output against id2label now, not on the first request
    await runBatch(model, tokenizer, [''], data.numLabels);
    return { model, tokenizer, provider: loaded.provider };
  } catch (error) {
    await loaded.session.release().catch(() => {});
    throw error;
  }
}

async function main(port: NonNullable<typeof parentPort>, data: HfWorkerData): Promise<void> {
  const post = (reply: HfWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
  let loaded;
  try {
    loaded = await load(data);
  } catch (error) {
    post(
      error instanceof HfModelError
        ? { type: 'load-error', file: error.file, problem: error.problem }
        : { type: 'load-error', file: data.modelPath, problem: messageOf(error) },
    );
    return;
  }
  const { model, tokenizer, provider } = loaded;
  let chain = Promise.resolve(); // one batch at a time: the session already uses every core it was given
  port.on('message', (request: HfWorkerRequest) => {
    if (request.type === 'close') {
      // Let the running batch finish: terminating a worker inside session.run aborts the whole process.
      chain = chain
        .then(() => model.release())
        .catch(() => {})
        .finally(() => port.close());
      return;
    }
    chain = chain.then(async () => {
      try {
        const result = await runBatch(model, tokenizer, request.texts, data.numLabels);
        post({ type: 'result', id: request.id, ...result }, [
          result.logits.buffer,
          result.tokens.buffer,
          result.truncated.buffer,
        ] as ArrayBuffer[]);
      } catch (error) {
        post({ type: 'error', id: request.id, message: messageOf(error) });
      }
    });
  });
  post({ type: 'ready', provider, inputs: model.inputs(), output: model.output });
}

if (parentPort) void main(parentPort, workerData as HfWorkerData);
