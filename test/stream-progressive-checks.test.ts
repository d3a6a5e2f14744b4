import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatCompletionChunk } from '../generator/types.js';
import type { RequestRun } from '../gateway/pipeline/request-run.js';
import { streamOptions } from '../gateway/pipeline/stream-options.js';
import { progressiveMode } from '../gateway/pipeline/stream-progressive.js';
import { Emitted, type StreamRun } from '../gateway/pipeline/stream-run.js';

/**
 * How often progressive mode checks when the upstream sends one token per pause (a local model): a
 * check that could release nothing (the new text only extends the held last word) is left out, and nothing goes
 * out unchecked or un-refused for it. The output stage here is a counting stand-in with the pattern classifiers'
 * shape (no model, so no growing windows).
 */
const chunk = (content: string, finish: string | null = null): ChatCompletionChunk => ({
  id: 'c',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});

async function* pausing(deltas: string[]): AsyncGenerator<ChatCompletionChunk> {
  for (const d of deltas) {
    await new Promise((r) => setTimeout(r, 1));
    yield chunk(d);
  }
  yield chunk('', 'stop');
}

async function run(deltas: string[], refuseOn?: string) {
  const reads: string[] = [];
  const requestRun = {
    policy: { policy: { classifiers: [] }, rules: [] },
    inputAction: 'allow',
    runOutput: (text: string) => {
      reads.push(text);
      return Promise.resolve(
        refuseOn && text.includes(refuseOn)
          ? { action: 'refuse', message: 'no', redactions: [], rewrites: new Map() }
          : { action: 'allow', redactions: [], rewrites: new Map() },
      );
    },
  } as unknown as RequestRun;
  const upstream = pausing(deltas);
  const s: StreamRun = {
    requestRun,
    upstream,
    first: await upstream.next(),
    controller: new AbortController(),
    signal: new AbortController().signal,
    options: streamOptions(),
    startedAt: performance.now(),
    detach: () => undefined,
  };
  const out = new Emitted(s, { id: 'c', model: 'm' });
  const sent: ChatCompletionChunk[] = [];
  for await (const c of progressiveMode(s, out)) sent.push(c);
  const text = sent.map((c) => c.choices[0]?.delta.content ?? '').join('');
  return { reads, text, finish: sent.at(-1)?.choices[0]?.finish_reason };
}

describe('progressive mode, one token per pause', () => {
  it('does not check while the tokens only extend the last word, and still sends all of it', async () => {
    const word = 'supercalifragilisticexpialidocious';
    const deltas = ['Hello', ' there', ' ', ...word, ' and', ' more', ' words', '.'];
    const r = await run(deltas);
    assert.equal(r.text, deltas.join(''));
    assert.equal(r.finish, 'stop');
    // Before: a check after every delta (about 40); now one per word boundary and the final one.
    assert.ok(r.reads.length <= 8, `${r.reads.length} checks`);
    assert.ok(r.reads.length >= 3, `${r.reads.length} checks`);
    assert.equal(r.reads.at(-1)?.endsWith('words.'), true, 'the final check reads the end');
  });

  it('still refuses a word assembled one character at a time before any of it goes out', async () => {
    const r = await run(['Some', ' text', ' then', ' ', ...'forbidden', ' after', ' it'], 'forbidden');
    assert.equal(r.finish, 'content_filter');
    assert.ok(!r.text.includes('forb'), r.text);
  });
});
