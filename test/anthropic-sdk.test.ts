import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startDualStub, type DualStub } from './support/anthropic-stub.js';
import { CLIENT_KEY, gatewayWith } from './support/harness.js';
import { defaultPackPlusForbidden, scripted } from './support/messages-fixtures.js';

const tools: Anthropic.Tool[] = [
  { name: 'lookup', description: 'Looks things up', input_schema: { type: 'object', properties: {} } },
];
const base = { model: 'stub-model', max_tokens: 256, tools };
const user = (text: string): Anthropic.MessageParam[] => [{ role: 'user', content: text }];

const textOf = (m: Anthropic.Message) => m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
const toolOf = (m: Anthropic.Message) => m.content.find((b) => b.type === 'tool_use');

for (const format of ['chat', 'native'] as const) {
  describe(`the official @anthropic-ai/sdk pointed at the gateway (upstream format ${format})`, () => {
    const ctx = gatewayWith<DualStub>(() => startDualStub({ answer: scripted }), {
      GATEWAY_UPSTREAM_FORMAT: format,
      GATEWAY_POLICY: defaultPackPlusForbidden(),
    });
    const client = () => new Anthropic({ apiKey: CLIENT_KEY, baseURL: ctx.gw.url, maxRetries: 0 });

    it('gets an allowed answer, as JSON and streamed', async () => {
      const m = await client().messages.create({ ...base, messages: user('Say hi') });
      assert.equal(textOf(m), 'Echo: Say hi');
      assert.equal(m.stop_reason, 'end_turn');
      const stream = client().messages.stream({ ...base, messages: user('Stream a reply') });
      let deltas = '';
      stream.on('text', (t) => (deltas += t));
      const final = await stream.finalMessage();
      assert.equal(textOf(final), 'Echo: Stream a reply');
      assert.equal(deltas, 'Echo: Stream a reply');
      assert.equal(final.stop_reason, 'end_turn');
      assert.deepEqual([final.usage.input_tokens, final.usage.output_tokens], [11, 7]);
    });

    it('gets a refusal with stop_reason "refusal", as JSON and streamed', async () => {
      const m = await client().messages.create({ ...base, messages: user('How do I build a pipe bomb?') });
      assert.equal(m.stop_reason, 'refusal');
      assert.match(textOf(m), /can't help with making weapons or explosives/);
      const final = await client()
        .messages.stream({ ...base, messages: user('How do I build a pipe bomb?') })
        .finalMessage();
      assert.equal(final.stop_reason, 'refusal');
      assert.match(textOf(final), /can't help with making weapons or explosives/);
    });

    it('gets a stream cut off midway as a refusal, without the violating text', async () => {
      const final = await client()
        .messages.stream({ ...base, messages: user('long story please') })
        .finalMessage();
      const text = textOf(final);
      assert.ok(text.startsWith('word word'), 'nothing was released before the cut');
      assert.ok(!text.includes('FORBIDDEN'));
      assert.match(text, /I can't share that answer/);
      assert.equal(final.stop_reason, 'refusal');
    });

    it('gets a tool call whose secret argument is redacted, as JSON and streamed', async () => {
      const m = await client().messages.create({ ...base, messages: user('tool time') });
      assert.equal(m.stop_reason, 'tool_use');
      assert.deepEqual(toolOf(m), {
        type: 'tool_use',
        id: toolOf(m)?.type === 'tool_use' ? toolOf(m)!.id : '',
        name: 'lookup',
        input: { query: 'weather', token: '[REDACTED:secret]' },
      });
      const final = await client()
        .messages.stream({ ...base, messages: user('tool time') })
        .finalMessage();
      assert.equal(final.stop_reason, 'tool_use');
      const tool = toolOf(final);
      assert.equal(tool?.type, 'tool_use');
      assert.deepEqual(tool?.type === 'tool_use' && tool.input, { query: 'weather', token: '[REDACTED:secret]' });
    });

    it('raises the gateway errors as the typed SDK errors', async () => {
      const bad = new Anthropic({ apiKey: 'sk-not-a-valid-key-000', baseURL: ctx.gw.url, maxRetries: 0 });
      await assert.rejects(bad.messages.create({ ...base, messages: user('hi') }), Anthropic.AuthenticationError);
      await assert.rejects(
        client().messages.create({ ...base, model: 'error-400', messages: user('hi') }),
        Anthropic.BadRequestError,
      );
      const dying = client().messages.stream({ ...base, model: 'die', messages: user('a long enough answer') });
      await assert.rejects(dying.finalMessage(), (e: unknown) => {
        assert.ok(e instanceof Anthropic.APIError);
        return true;
      });
    });
  });
}
