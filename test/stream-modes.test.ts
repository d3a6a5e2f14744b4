import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { Agent } from 'undici';
import { CLIENT_KEY, auth, chat, eventually, type TestGateway } from './support/harness.js';
import { chunkOf, finishOf, sseChat, textOf } from './support/sse-client.js';
import { REFUSAL, SCRIPTS, WINDOWS, scripted, streamGateway } from './support/stream-fixtures.js';
import { startStubUpstream, type StubUpstream } from './support/stub-upstream.js';

const full = (name: string) => SCRIPTS[name].join('');

for (const mode of ['progressive', 'buffer', 'stream-first'] as const) {
  /** The modes that check text before it is sent. */
  const holds = mode !== 'stream-first';
  describe(`streamed output in ${mode} mode`, () => {
    let stub: StubUpstream;
    let gw: TestGateway;
    const dispatcher = new Agent();
    const post = (prompt: string, extra = {}) =>
      sseChat(`${gw.url}/v1/chat/completions`, chat(prompt, extra), auth, { dispatcher });
    before(async () => {
      stub = await startStubUpstream(scripted);
      gw = await streamGateway(stub.url, { mode, ...WINDOWS });
    });
    after(async () => {
      await dispatcher.close();
      await gw.close();
      await stub.close();
    });

    /**
     * A cut stream: refusal last, content_filter, [DONE], upstream aborted, and the record holds what the client got.
     */
    async function assertCut(r: Awaited<ReturnType<typeof post>>, abortedBefore: number) {
      const text = textOf(r.events);
      assert.ok(text.endsWith(REFUSAL), `the stream should end with the refusal: ${text}`);
      assert.equal(finishOf(r.events), 'content_filter');
      assert.equal(r.events.at(-1)!.data, '[DONE]');
      assert.ok(!text.includes('END'), 'the stream was not cut before the end of the answer');
      await eventually(() => stub.aborted === abortedBefore + 1);
      const rec = gw.records().at(-1)!;
      assert.equal(rec.action, 'refuse');
      assert.equal(rec.status, 200);
      assert.equal(rec.stages.output?.rules[0].id, 'no-forbidden');
      assert.deepEqual(rec.content, { mode: 'full', prompt: rec.content.prompt, output: text });
      return text;
    }

    it('passes a clean stream through whole, with one id, a role chunk first, stop, [DONE] and a record of what was sent', async () => {
      const r = await post('clean');
      assert.equal(r.status, 200);
      assert.equal(textOf(r.events), full('clean'));
      assert.equal(chunkOf(r.events[0]).choices?.[0]?.delta?.role, 'assistant');
      assert.equal(finishOf(r.events), 'stop');
      assert.equal(r.events.at(-1)!.data, '[DONE]');
      const chunks = r.events.slice(0, -1).map(chunkOf);
      assert.ok(
        chunks.every((c) => c.id === chunks[0].id && c.model === chunks[0].model && c.created === chunks[0].created),
      );
      const rec = gw.records().at(-1)!;
      assert.equal(rec.action, 'allow');
      assert.equal(rec.content.output, full('clean'));
    });

    it('cuts a stream whose first window violates the policy', async () => {
      const n = stub.aborted;
      const text = await assertCut(await post('early'), n);
      if (holds) assert.equal(text, REFUSAL);
    });

    it('cuts a stream that violates the policy midway', async () => {
      const n = stub.aborted;
      const text = await assertCut(await post('middle'), n);
      if (holds) assert.ok(!text.includes('FORBIDDEN') && text.startsWith('tok00'));
    });

    it('catches a violation split across two chunks', async () => {
      const n = stub.aborted;
      const text = await assertCut(await post('split'), n);
      if (holds) assert.ok(!text.includes('FORBI'), 'part of the violation leaked');
    });

    it('catches a violation split across two windows', async () => {
      const n = stub.aborted;
      const text = await assertCut(await post('edge'), n);
      if (holds) assert.ok(!text.includes('FORBI') && text.startsWith('tok00'), 'part of the violation leaked');
    });

    it(
      holds
        ? 'redacts an email before the client sees it'
        : 'cuts a stream that needs a redaction, since sent text cannot be taken back',
      async () => {
        const r = await post('email');
        const text = textOf(r.events);
        if (holds) {
          assert.equal(text, full('email').replace('jane.doe@example.com', '[REDACTED:pii]'));
          assert.equal(finishOf(r.events), 'stop');
          assert.equal(gw.records().at(-1)!.action, 'redact');
        } else {
          assert.equal(finishOf(r.events), 'content_filter');
          assert.equal(gw.records().at(-1)!.content.output, text);
        }
      },
    );

    it('passes a usage chunk through after the finish chunk', async () => {
      const r = await post('clean', { stream_options: { include_usage: true } });
      const chunks = r.events.slice(0, -1).map(chunkOf);
      assert.deepEqual(chunks.at(-1)!.choices, []);
      assert.equal(chunks.at(-1)!.usage!.completion_tokens, SCRIPTS.clean.length);
      assert.equal(chunks.at(-2)!.choices![0].finish_reason, 'stop');
      assert.equal(textOf(r.events), full('clean'));
    });

    it('sends a clean error event and records what was sent when the upstream dies mid-stream', async () => {
      const r = await post('clean', { model: 'die' });
      assert.equal(chunkOf(r.events.at(-1)!).error?.code, 'upstream_error');
      const rec = gw.records().at(-1)!;
      assert.equal(rec.status, 502);
      assert.equal(rec.error?.type, 'upstream_error');
      assert.equal(rec.content.output, textOf(r.events));
    });

    it('aborts the upstream and records a 499 when the client goes away', async () => {
      const n = stub.aborted;
      const records = gw.records().length;
      await sseChat(`${gw.url}/v1/chat/completions`, chat('clean'), auth, {
        abortAfter: mode === 'buffer' ? 1 : 4,
        dispatcher,
      });
      await eventually(() => stub.aborted === n + 1);
      await eventually(() => gw.records().length === records + 1);
      const rec = gw.records().at(-1)!;
      assert.equal(rec.status, 499);
      assert.equal(rec.error?.type, 'client_closed');
    });
  });
}

describe('upstream stream hygiene', () => {
  it('reads keep-alive comments, multi-line data and a missing role chunk, and sends a role first', async () => {
    const stub = await startStubUpstream({
      ...scripted,
      keepAlive: true,
      multiLineData: true,
      noRole: true,
      usage: true,
    });
    const gw = await streamGateway(stub.url, { mode: 'stream-first', ...WINDOWS });
    try {
      const r = await sseChat(`${gw.url}/v1/chat/completions`, chat('clean'), auth);
      assert.equal(textOf(r.events), full('clean'));
      assert.equal(chunkOf(r.events[0]).choices?.[0]?.delta?.role, 'assistant');
      assert.equal(finishOf(r.events), 'stop');
      assert.ok(chunkOf(r.events.at(-2)!).usage);
    } finally {
      await gw.close();
      await stub.close();
    }
  });

  it('lets the official openai client read a stream cut in stream-first mode', async () => {
    const stub = await startStubUpstream(scripted);
    const gw = await streamGateway(stub.url, { mode: 'stream-first', ...WINDOWS });
    try {
      const client = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
      const stream = await client.chat.completions.create({
        model: 'stub-model',
        messages: [{ role: 'user', content: 'middle' }],
        stream: true,
      });
      let text = '';
      let finish: string | null = null;
      for await (const c of stream) {
        text += c.choices[0]?.delta?.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      assert.ok(text.endsWith(REFUSAL));
      assert.equal(finish, 'content_filter');
    } finally {
      await gw.close();
      await stub.close();
    }
  });

  it('sends keep-alive comments to the client while output is held', async () => {
    const stub = await startStubUpstream({ pieces: () => ['a', 'b', 'c'], delayMs: () => 60 });
    const gw = await streamGateway(stub.url, { mode: 'buffer', keepAliveMs: 40 });
    try {
      const r = await sseChat(`${gw.url}/v1/chat/completions`, chat('hold'), auth);
      assert.equal(textOf(r.events), 'abc');
      assert.ok(r.comments.includes('keep-alive'), 'no keep-alive comment arrived');
    } finally {
      await gw.close();
      await stub.close();
    }
  });
});
