import type { ServerResponse } from 'node:http';
import { serveLocal } from './local-server.js';
import type { StubRequest } from './stub-upstream.js';

/**
 * A stub Responses API model server: a real HTTP server on loopback that answers POST /v1/responses as a
 * Response object (JSON) or as the typed SSE events (`event: response.output_text.delta` …), as OpenAI and vLLM
 * do. Any other path is a 404. By the request's `model`:
 * - anything else: answers `reply` (default "Echo: <last user text>"), or the function call `toolCall` returns;
 * - `error-500`: an OpenAI-shaped 500; `missing-model`: OpenAI's 404 `model_not_found`; `error-event`: streams an `error` event after the first delta;
 * - `die`: streams two deltas, then drops the connection.
 */
export interface ResponsesStubOptions {
  reply?: (lastUser: string, body: Record<string, unknown>) => string;
  /** A function call the model makes (after its text, if any) for this prompt, or none. */
  toolCall?: (lastUser: string) => { name: string; arguments: string } | undefined;
  /** Characters per text delta and per arguments delta. */
  chunkChars?: number;
}

export interface ResponsesStub {
  url: string;
  port: number;
  requests: StubRequest[];
  close(): Promise<void>;
}

type Item = Record<string, unknown>;

/** The text of the last user message among the input items (a string input is one). */
function lastUser(input: unknown): string {
  if (typeof input === 'string') return input;
  const items = Array.isArray(input) ? (input as Item[]) : [];
  const m = items.findLast((i) => (i.type ?? 'message') === 'message' && i.role === 'user');
  if (!m) return '';
  if (typeof m.content === 'string') return m.content;
  return (m.content as Item[]).map((p) => String(p.text ?? '')).join('');
}

const pieces = (s: string, n: number) => s.match(new RegExp(`[\\s\\S]{1,${n}}`, 'g')) ?? [];

export async function startResponsesStub(opts: ResponsesStubOptions = {}): Promise<ResponsesStub> {
  const { chunkChars = 8 } = opts;
  const requests: StubRequest[] = [];
  let n = 0;
  const server = await serveLocal(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: Item = {};
    try {
      body = JSON.parse(raw) as Item;
    } catch {
      /* an empty body */
    }
    requests.push({ at: performance.now(), path: req.url ?? '', headers: req.headers, body, raw });
    if (req.method !== 'POST' || !req.url?.endsWith('/responses')) return error(res, 404, 'not found');
    const model = String(body.model ?? '');
    if (model === 'error-500') return error(res, 500, 'stub 500');
    if (model === 'missing-model')
      return error(res, 404, 'The model `missing-model` does not exist', 'model_not_found');
    const user = lastUser(body.input);
    const text = opts.reply ? opts.reply(user, body) : `Echo: ${user}`;
    const call = opts.toolCall?.(user);
    const id = `resp_stub${++n}`;
    const base = { id, object: 'response', created_at: 1_700_000_000, model, upstream_extra: 'kept' };
    const message = { id: `msg_stub${n}`, type: 'message', role: 'assistant', status: 'completed' };
    const part = { type: 'output_text', text, annotations: [] };
    const fc = call && { id: `fc_stub${n}`, type: 'function_call', status: 'completed', call_id: `call_${n}`, ...call };
    const output = [...(text ? [{ ...message, content: [part] }] : []), ...(fc ? [fc] : [])];
    const usage = { input_tokens: 5, output_tokens: 7, total_tokens: 12 };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ ...base, status: 'completed', output, usage }));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let seq = 0;
    const send = (type: string, fields: Item) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...fields })}\n\n`);
    send('response.created', { response: { ...base, status: 'in_progress', output: [] } });
    send('response.in_progress', { response: { ...base, status: 'in_progress', output: [] } });
    let index = 0;
    if (text) {
      const at = { item_id: message.id, output_index: index, content_index: 0 };
      send('response.output_item.added', { output_index: index, item: { ...message, content: [] } });
      send('response.content_part.added', { ...at, part: { ...part, text: '' } });
      const deltas = pieces(text, chunkChars);
      for (const [i, delta] of deltas.entries()) {
        if (model === 'die' && i === 2) return res.destroy();
        send('response.output_text.delta', { ...at, delta, logprobs: [] });
        if (model === 'error-event') {
          send('error', { code: 'server_error', message: 'stub stream failed', param: null });
          return res.end();
        }
      }
      send('response.output_text.done', { ...at, text, logprobs: [] });
      send('response.content_part.done', { ...at, part });
      send('response.output_item.done', { output_index: index, item: output[0] });
      index++;
    }
    if (fc) {
      send('response.output_item.added', {
        output_index: index,
        item: { ...fc, arguments: '', status: 'in_progress' },
      });
      for (const delta of pieces(fc.arguments, chunkChars))
        send('response.function_call_arguments.delta', { item_id: fc.id, output_index: index, delta });
      send('response.function_call_arguments.done', { item_id: fc.id, output_index: index, arguments: fc.arguments });
      send('response.output_item.done', { output_index: index, item: fc });
    }
    send('response.completed', { response: { ...base, status: 'completed', output, usage } });
    res.end();
  });
  return { url: server.url, port: server.port, requests, close: server.close };
}

function error(res: ServerResponse, status: number, message: string, code: string | null = null) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error', code, param: null } }));
}
