import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { auth, chat, gatewayWith } from '../support/harness.js';
import { serveLocal, type LocalServer } from '../support/local-server.js';

const role = {
  id: 'c1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
};
const BAD_EVENTS = [
  '"text"',
  'null',
  '{"choices":[null]}',
  '{"choices":[{"delta":{"content":5}}]}',
  '{"choices":[{"delta":{"content":[{"type":"text","text":"hidden"}]}}]}',
];
const BAD_ANSWERS = [
  '{"choices":[{"message":{"role":"assistant","content":{"a":1}}}]}',
  '{"choices":[{"message":{"content":[{"type":"text","text":"hidden"}]}}]}',
  '{"choices":[null]}',
];

/** Streams a role chunk then BAD_EVENTS[n] for model `sse-n`; answers BAD_ANSWERS[n] for model `json-n`. */
async function badUpstream(): Promise<LocalServer> {
  return serveLocal(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    const [kind, n] = String(JSON.parse(raw).model).split('-');
    if (kind === 'json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(BAD_ANSWERS[Number(n)]);
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(`data: ${JSON.stringify(role)}\n\ndata: ${BAD_EVENTS[Number(n)]}\n\ndata: [DONE]\n\n`);
  });
}

describe('upstream answers that are not chat completions (found by npm run fuzz)', () => {
  const ctx = gatewayWith(badUpstream);
  const post = (model: string, stream: boolean) =>
    fetch(`${ctx.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(chat('hi', { model, stream })),
    });

  it('ends a stream with an upstream_error event, never forwarding a chunk the output stage cannot read', async () => {
    for (let n = 0; n < BAD_EVENTS.length; n++) {
      const res = await post(`sse-${n}`, true);
      const text = await res.text();
      assert.doesNotMatch(text, /hidden|"content":5|"0":"t"/, BAD_EVENTS[n]);
      if (res.status === 200) assert.match(text, /data: \{"error":\{[^\n]*"code":"upstream_error"/, BAD_EVENTS[n]);
      else assert.equal(res.status, 502, BAD_EVENTS[n]);
    }
  });

  it('answers 502 for a completion whose content is not text', async () => {
    for (let n = 0; n < BAD_ANSWERS.length; n++) {
      const res = await post(`json-${n}`, false);
      assert.equal(res.status, 502, BAD_ANSWERS[n]);
      assert.doesNotMatch(await res.text(), /hidden/);
    }
  });
});
