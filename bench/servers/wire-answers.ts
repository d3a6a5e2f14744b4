import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * bench:proxy's upstream: one server that answers all three wire formats from the same process and the same code
 * path: `POST …/chat/completions` (a chat completion), `POST …/responses` (a Response object) and `POST …/messages`
 * (an Anthropic message), JSON only, each with a declared length. Each request's body is read and parsed and a
 * fresh answer serialized; nothing is kept.
 *
 * Why not the test stubs (test/support): they record every request, so a stub's heap grows through a run, each of
 * the three costs a different amount per request, and the Responses and Anthropic ones sat idle most of a bench
 * round. A process that has been idle answers its next requests slower (bench/README.md, "bench:proxy and idle
 * processes"), so the per-format stubs added more to the pass-through rows than their direct baselines took off.
 * Here every API's direct baseline and every gateway row go through the one busy process doing the same work.
 *
 * @example
 * const stub = await startWireStub(); // stub.url is http://127.0.0.1:<port>/v1
 */
export interface WireStub {
  port: number;
  url: string;
  close(): Promise<void>;
}

const TEXT = 'The capital of France is Paris. It has been the capital for most of its history.';
const CREATED = 1_700_000_000;
let n = 0;

type Body = { model?: unknown; stream?: unknown };

const answers: Record<string, (id: number, model: string) => object> = {
  'chat/completions': (id, model) => ({
    id: `chatcmpl-bench${id}`,
    object: 'chat.completion',
    created: CREATED,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: TEXT }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 11, completion_tokens: 18, total_tokens: 29 },
  }),
  responses: (id, model) => ({
    id: `resp_bench${id}`,
    object: 'response',
    created_at: CREATED,
    model,
    status: 'completed',
    output: [
      {
        id: `msg_bench${id}`,
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: TEXT, annotations: [] }],
      },
    ],
    usage: { input_tokens: 11, output_tokens: 18, total_tokens: 29 },
  }),
  messages: (id, model) => ({
    id: `msg_bench${id}`,
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: TEXT }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 11, output_tokens: 18 },
  }),
};

function send(res: ServerResponse, status: number, body: object) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** One answer per request, in the format its path names; 404 for another path, 400 for a stream or no model. */
export async function startWireStub(port = 0): Promise<WireStub> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Body | null = null;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Body | null;
    } catch {
      /* answered as a bad request below */
    }
    const api = Object.keys(answers).find((path) => req.url?.endsWith(`/${path}`));
    const notFound = { error: { message: 'not found', type: 'invalid_request_error', code: null, param: null } };
    if (req.method !== 'POST' || !api) return send(res, 404, notFound);
    if (typeof body?.model !== 'string' || body.stream === true) {
      const message = 'this stub answers JSON requests with a model only';
      return send(res, 400, { error: { message, type: 'invalid_request_error', code: null, param: null } });
    }
    send(res, 200, answers[api](++n, body.model));
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  const bound = (server.address() as AddressInfo).port;
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}/v1`,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
