import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { serveLocal } from './local-server.js';

/** What the stub model says: text, and optionally one tool call. */
export interface ScriptedAnswer {
  text: string;
  tool?: { name: string; input: Record<string, unknown> };
}

export interface DualStubOptions {
  /** The answer to a prompt (the last user turn's text); default `Echo: <prompt>`. */
  answer?: (prompt: string) => ScriptedAnswer;
  /** Characters per streamed text delta (and per input_json_delta / arguments piece). */
  chunkChars?: number;
}

export interface DualStubRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

export interface DualStub {
  /** `http://127.0.0.1:<port>/v1`. */
  url: string;
  port: number;
  requests: DualStubRequest[];
  close(): Promise<void>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The last user turn's text, in either wire format (text blocks or text parts; tool results left out). */
function promptOf(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages.filter((m) => isObject(m) && m.role === 'user').at(-1);
  if (!isObject(last)) return '';
  if (typeof last.content === 'string') return last.content;
  return (Array.isArray(last.content) ? last.content : [])
    .map((b) => (isObject(b) && b.type === 'text' && typeof b.text === 'string' ? b.text : ''))
    .join('');
}

const pieces = (s: string, n: number) => s.match(new RegExp(`[\\s\\S]{1,${n}}`, 'g')) ?? [];

/**
 * A stub model server speaking two wire formats over real HTTP, from one script: the Anthropic Messages API at
 * `POST /v1/messages` (a message, or its event stream: message_start, content_block_start / delta / stop with
 * text_delta and input_json_delta, ping, message_delta, message_stop) and OpenAI chat completions at
 * `POST /v1/chat/completions` (with `tool_calls`), so a test can compare the pass-through and translated paths.
 * The request's `model` picks a failure: `error-400`, `error-529` (each API's error body), `die` (the stream
 * drops after two deltas), `error-event` (an Anthropic `error` event mid-stream), `echo-key` (a 401 whose message
 * echoes the `x-api-key` it was sent).
 */
export async function startDualStub(opts: DualStubOptions = {}): Promise<DualStub> {
  const { chunkChars = 5 } = opts;
  const requests: DualStubRequest[] = [];
  let n = 0;
  const server = await serveLocal(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (isObject(parsed)) body = parsed;
    } catch {
      /* no fields */
    }
    const path = req.url ?? '';
    requests.push({ path, headers: req.headers, body });
    const anthropic = path.endsWith('/messages');
    if (req.method !== 'POST' || (!anthropic && !path.endsWith('/chat/completions'))) {
      return json(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'not found' } });
    }
    const model = typeof body.model === 'string' ? body.model : '';
    if (model === 'error-400' || model === 'error-529') {
      const status = model === 'error-400' ? 400 : 529;
      const type = status === 400 ? 'invalid_request_error' : 'overloaded_error';
      return json(
        res,
        status,
        anthropic
          ? { type: 'error', error: { type, message: `stub ${status}` } }
          : { error: { message: `stub ${status}`, type, code: 'stub', param: null } },
      );
    }
    if (model === 'echo-key') {
      // As real APIs do: the key it was sent, echoed in the error message.
      const message = `invalid x-api-key: ${String(req.headers['x-api-key'])}`;
      return json(res, 401, { type: 'error', error: { type: 'authentication_error', message } });
    }
    const answer = opts.answer?.(promptOf(body)) ?? { text: `Echo: ${promptOf(body)}` };
    const id = `${anthropic ? 'msg_stub' : 'chatcmpl-stub'}${++n}`;
    const toolId = `toolu_stub${n}`;
    const stream = body.stream === true;
    if (anthropic && !stream) return json(res, 200, anthropicMessage(id, model, answer, toolId));
    if (!anthropic && !stream) return json(res, 200, chatCompletion(id, model, answer, toolId));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const events = anthropic
      ? anthropicEvents(id, model, answer, toolId, chunkChars)
      : chatEvents(id, model, answer, toolId, chunkChars);
    let deltas = 0;
    for (const e of events) {
      if (res.destroyed) return;
      if (/delta/.test(e) && ++deltas === 3 && model === 'die') return res.destroy();
      if (/delta/.test(e) && deltas === 3 && model === 'error-event') {
        const err = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
        return res.end(`event: error\ndata: ${JSON.stringify(err)}\n\n`);
      }
      res.write(e);
      await new Promise((r) => setImmediate(r));
    }
    res.end();
  });
  return { url: server.url, port: server.port, requests, close: server.close };
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function anthropicMessage(id: string, model: string, a: ScriptedAnswer, toolId: string) {
  const content: unknown[] = [{ type: 'text', text: a.text }];
  if (a.tool) content.push({ type: 'tool_use', id: toolId, name: a.tool.name, input: a.tool.input });
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: a.tool ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 11, output_tokens: 7 },
  };
}

function anthropicEvents(id: string, model: string, a: ScriptedAnswer, toolId: string, size: number): string[] {
  const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const message = { ...anthropicMessage(id, model, a, toolId), content: [], stop_reason: null };
  const out = [ev('message_start', { message: { ...message, usage: { input_tokens: 11, output_tokens: 1 } } })];
  out.push(ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }), ev('ping', {}));
  for (const p of pieces(a.text, size))
    out.push(ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: p } }));
  out.push(ev('content_block_stop', { index: 0 }));
  if (a.tool) {
    const block = { type: 'tool_use', id: toolId, name: a.tool.name, input: {} };
    out.push(ev('content_block_start', { index: 1, content_block: block }));
    for (const p of pieces(JSON.stringify(a.tool.input), size))
      out.push(ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: p } }));
    out.push(ev('content_block_stop', { index: 1 }));
  }
  const delta = { stop_reason: a.tool ? 'tool_use' : 'end_turn', stop_sequence: null };
  out.push(ev('message_delta', { delta, usage: { output_tokens: 7 } }), ev('message_stop', {}));
  return out;
}

function chatCompletion(id: string, model: string, a: ScriptedAnswer, toolId: string) {
  const tool_calls = a.tool && [
    { id: toolId, type: 'function', function: { name: a.tool.name, arguments: JSON.stringify(a.tool.input) } },
  ];
  return {
    id,
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: a.text, ...(tool_calls && { tool_calls }) },
        finish_reason: a.tool ? 'tool_calls' : 'stop',
      },
    ],
    usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
  };
}

function chatEvents(id: string, model: string, a: ScriptedAnswer, toolId: string, size: number): string[] {
  const ev = (delta: object, finish: string | null = null) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const out = [ev({ role: 'assistant', content: '' })];
  for (const p of pieces(a.text, size)) out.push(ev({ content: p }));
  if (a.tool) {
    out.push(
      ev({ tool_calls: [{ index: 0, id: toolId, type: 'function', function: { name: a.tool.name, arguments: '' } }] }),
    );
    for (const p of pieces(JSON.stringify(a.tool.input), size))
      out.push(ev({ tool_calls: [{ index: 0, function: { arguments: p } }] }));
  }
  out.push(ev({}, a.tool ? 'tool_calls' : 'stop'));
  const usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
  out.push(
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model, choices: [], usage })}\n\n`,
  );
  out.push('data: [DONE]\n\n');
  return out;
}
