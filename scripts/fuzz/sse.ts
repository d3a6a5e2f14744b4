import type { ServerResponse } from 'node:http';
import { serveLocal } from '../../test/support/local-server.js';
import { Rand } from './random.js';

/**
 * A chaotic OpenAI-compatible upstream: each answer is drawn from (seed, n), where n is read from the request's
 * model name (`chaos-<n>`). It sends broken event streams — bytes split anywhere (mid-character too), events
 * that are not JSON or not chunks, error events, streams that stop without finishing, huge lines, odd line
 * endings — and broken JSON answers for non-streamed calls.
 */

const CREATED = 1_700_000_000;
const chunk = (delta: object, finish: string | null = null) => ({
  id: 'chatcmpl-chaos',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'chaos',
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const event = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

/** Data lines that are not a well-formed chunk. */
const BAD_DATA = [
  '{not json',
  'null',
  '1',
  '[]',
  '"text"',
  'true',
  '{}',
  '{"choices":null}',
  '{"choices":"x"}',
  '{"choices":[null]}',
  '{"choices":[1]}',
  '{"choices":[{"delta":null}]}',
  '{"choices":[{"delta":"x"}]}',
  '{"choices":[{"delta":{"content":5}}]}',
  '{"choices":[{"delta":{"content":{"x":1}}}]}',
  '{"choices":[{"delta":{"content":"x"},"finish_reason":5}]}',
  '{"choices":[{"delta":{"role":7,"content":"x"}}]}',
  '{"error":{"message":"boom","type":"server_error"}}',
  '{"error":"boom"}',
  '{"error":{}}',
  '{"id":5,"choices":[{"delta":{"content":"x"}}]}',
  '{"choices":[{"index":"a","delta":{"content":"x"}}],"usage":"lots"}',
];

/** Bodies for non-streamed calls that are not a chat completion. */
const BAD_JSON = [
  '{',
  '',
  'null',
  '[]',
  '{"choices":"x"}',
  '{"choices":[null]}',
  '{"choices":[{"message":null}]}',
  '{"choices":[{"message":{"content":5}}]}',
  '{"choices":[{"message":{"content":{"a":1}}}]}',
  '{"choices":[]}',
  '{"choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":null}',
];

/** What one answer sends: its status, content type and body pieces. */
export function chaosScript(
  r: Rand,
  stream: boolean,
): { name: string; status: number; type: string; pieces: string[]; destroy?: boolean } {
  const ok = [
    event(chunk({ role: 'assistant', content: '' })),
    ...['Hel', 'lo ', 'wörld ', '😀'].map((t) => event(chunk({ content: t }))),
  ];
  const finish = [event(chunk({}, 'stop')), 'data: [DONE]\n\n'];
  if (!stream) {
    const k = r.int(0, 3);
    if (k === 0)
      return { name: 'json: not a completion', status: 200, type: 'application/json', pieces: [r.pick(BAD_JSON)] };
    if (k === 1)
      return {
        name: 'json: error status',
        status: r.pick([400, 404, 429, 500, 503]),
        type: r.pick(['application/json', 'text/html']),
        pieces: [
          r.pick([
            '{"error":{"message":"x","type":"t"}}',
            '{"error":"x"}',
            '{"error":{}}',
            '<html>oops',
            '',
            '{"error":[]}',
          ]),
        ],
      };
    if (k === 2)
      return { name: 'json: event stream instead', status: 200, type: 'text/event-stream', pieces: [...ok, ...finish] };
    return {
      name: 'json: cut off',
      status: 200,
      type: 'application/json',
      pieces: ['{"id":"x","choices":[{"message":{"role":"assistant","content":"par'],
      destroy: true,
    };
  }
  const kind = r.int(0, 9);
  switch (kind) {
    case 0:
      return { name: 'sse: valid', status: 200, type: 'text/event-stream', pieces: [...ok, ...finish] };
    case 1:
      return {
        name: 'sse: bad event mid-stream',
        status: 200,
        type: 'text/event-stream',
        pieces: [...ok.slice(0, r.int(0, ok.length)), event(r.pick(BAD_DATA)), ...ok.slice(1), ...finish],
      };
    case 2:
      return {
        name: 'sse: random bytes',
        status: 200,
        type: 'text/event-stream',
        pieces: [r.bytes(r.int(1, 300)).toString('latin1')],
      };
    case 3:
      return {
        name: 'sse: ends without finishing',
        status: 200,
        type: 'text/event-stream',
        pieces: ok.slice(0, r.int(0, ok.length)),
      };
    case 4:
      return {
        name: 'sse: cut mid-event',
        status: 200,
        type: 'text/event-stream',
        pieces: [...ok.slice(0, 2), 'data: {"choices":[{"delta":{"cont'],
        destroy: r.chance(0.5),
      };
    case 5:
      return {
        name: 'sse: odd framing',
        status: 200,
        type: 'text/event-stream',
        pieces: [...ok, ...finish].map((p) =>
          r.pick([
            p.replace(/\n/g, '\r'),
            p.replace(/\n/g, '\r\n'),
            `\ufeff: c\n${p}`,
            `event: error\nid: 1\nretry: x\n${p}`,
            p.replace('data: ', 'data:'),
            p.replace(/\n\n$/, '\n'),
          ]),
        ),
      };
    case 6:
      return {
        name: 'sse: huge line',
        status: 200,
        type: 'text/event-stream',
        pieces: [
          ok[0],
          `data: {"choices":[{"delta":{"content":"${'x'.repeat(r.int(1, 3) * 700_000)}"}}]}`,
          r.chance(0.5) ? '\n\n' : '',
          ...finish,
        ],
      };
    case 7:
      return {
        name: 'sse: error status',
        status: r.pick([400, 401, 429, 500, 502]),
        type: r.pick(['text/event-stream', 'application/json', 'text/plain']),
        pieces: [
          r.pick(['{"error":{"message":"nope","type":"x"}}', 'data: {"error":"x"}\n\n', 'oops', '', '{"error":{}}']),
        ],
      };
    case 8:
      return {
        name: 'sse: JSON instead of a stream',
        status: 200,
        type: 'application/json',
        pieces: [
          '{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}',
        ],
      };
    default:
      return {
        name: 'sse: bad events only',
        status: 200,
        type: 'text/event-stream',
        pieces: Array.from({ length: r.int(1, 5) }, () => event(r.pick(BAD_DATA))).concat(
          r.chance(0.5) ? ['data: [DONE]\n\n'] : [],
        ),
      };
  }
}

/** Writes the pieces re-split at random byte offsets, so events and UTF-8 characters straddle writes. */
async function write(res: ServerResponse, r: Rand, pieces: string[], destroy: boolean): Promise<void> {
  const bytes = Buffer.from(pieces.join(''), 'utf8');
  for (let at = 0; at < bytes.length;) {
    const n = r.chance(0.3) ? r.int(1, 7) : r.int(8, 4096);
    if (!res.write(bytes.subarray(at, at + n))) await new Promise((ok) => res.once('drain', ok));
    at += n;
    if (r.chance(0.05)) await new Promise((ok) => setImmediate(ok));
  }
  if (destroy) res.destroy();
  else res.end();
}

export interface ChaosUpstream {
  url: string;
  /** Answers sent, by scenario name. */
  scenarios: Record<string, number>;
  close(): Promise<void>;
}

export async function startChaosUpstream(seed: number): Promise<ChaosUpstream> {
  const scenarios: Record<string, number> = {};
  const server = await serveLocal(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += c;
    let body: { model?: string; stream?: boolean } = {};
    try {
      body = JSON.parse(raw);
    } catch {
      /* answered below as case 0 */
    }
    const n = Number(/^chaos-(\d+)$/.exec(body.model ?? '')?.[1] ?? 0);
    const r = Rand.for(seed ^ 0x5ee, n);
    const s = chaosScript(r, body.stream === true);
    scenarios[s.name] = (scenarios[s.name] ?? 0) + 1;
    res.writeHead(s.status, { 'content-type': s.type });
    await write(res, r, s.pieces, s.destroy ?? false);
  });
  return { url: server.url, scenarios, close: server.close };
}
