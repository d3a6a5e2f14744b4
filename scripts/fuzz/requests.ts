import { conversationBody } from './conversation.js';
import type { Rand } from './random.js';

/**
 * Generated HTTP requests for the gateway's OpenAI surface. Each case says what a correct gateway answers:
 * `ok` (a 200), `client-error` (a 4xx in OpenAI's error shape) or `either` (both are defensible). With a broken
 * upstream (`upstream-fault`), a 502 or 504 is right too, and a stream may end with an error event.
 */
export type Expect = 'ok' | 'client-error' | 'either' | 'upstream-fault';

export interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  expect: Expect;
  /** A marker carried in headers the upstream must never see. */
  smuggled?: string;
  /** Send without the client key. */
  noAuth?: boolean;
}

const CHAT = '/v1/chat/completions';
const JSON_TYPE = { 'content-type': 'application/json' };
const WORDS = [
  'What is the capital of France?',
  'Write a haiku about rain',
  'Sum 2 and 3',
  'café ☕ 中文 😀',
  'a\u200bb\u202ec',
  'lone \ud800 surrogate',
  '',
  'x'.repeat(5000),
];

function message(r: Rand): Record<string, unknown> {
  const role = r.pick(['user', 'user', 'system', 'assistant', 'developer', 'tool']);
  const text = r.pick(WORDS);
  const parts = () =>
    Array.from({ length: r.int(1, 4) }, () =>
      r.pick([
        { type: 'text', text },
        {
          type: 'image_url',
          image_url: { url: `data:image/png;base64,${r.bytes(r.int(0, 64)).toString('base64')}`, detail: 'low' },
        },
        { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
        { type: 'text', text, cache_control: { type: 'ephemeral' } },
      ]),
    );
  const content = r.chance(0.6) ? text : role === 'assistant' && r.chance(0.2) ? null : parts();
  return { role, content, ...(r.chance(0.1) && { name: 'n1' }), ...(r.chance(0.1) && { unknown_field: r.json(2) }) };
}

/** A body the schema accepts. */
function validBody(r: Rand): Record<string, unknown> {
  const messages = Array.from({ length: r.int(0, 3) }, () => message(r));
  messages.push({ role: 'user', content: r.pick(WORDS) });
  return {
    model: r.pick(['stub-model', 'gpt-4o', 'm/with/slashes', '../../admin?x=1#y', 'é']),
    messages,
    ...(r.chance(0.4) && { stream: r.chance(0.5) }),
    ...(r.chance(0.2) && { n: r.int(1, 8) }),
    ...(r.chance(0.3) && {
      temperature: r.float() * 2,
      top_p: 1,
      max_tokens: r.int(1, 100),
      tools: [],
      user: r.text(10),
      metadata: r.json(2),
    }),
  };
}

/** For each field, values that the schema must reject. */
const INVALID: Record<string, readonly unknown[]> = {
  model: [null, 1, true, [], {}, ''],
  messages: [null, 'hi', 1, {}, [], [1], [null], ['user'], [{}], [{ content: 'no role' }]],
  role: ['User', 'admin', '', null, 1, ['user']],
  content: [1, true, {}, [1], [{}], [{ type: '' }], [{ type: 1 }], [{ type: 'text', text: 1 }], 'x'.split('')],
  stream: ['true', 1, null, {}],
  n: [0, 9, 1.5, '2', -1, null],
};

const b = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const chat = (
  body: Buffer,
  expect: Expect,
  kind: string,
  headers: Record<string, string> = JSON_TYPE,
): FuzzRequest => ({ kind, method: 'POST', path: CHAT, headers, body, expect });

const nest = (depth: number, open: string, close: string, inner = '1') =>
  open.repeat(depth) + inner + close.repeat(depth);

/** Every kind of case, by name. */
export const KINDS: Record<string, (r: Rand, i: number, limit: number) => FuzzRequest> = {
  valid: (r) => chat(b(validBody(r)), 'ok', 'valid'),
  conversation: (r) => chat(b(conversationBody(r)), 'either', 'conversation'),
  'truncated json': (r) => {
    const s = b(validBody(r));
    return chat(s.subarray(0, r.int(0, s.length - 1)), 'client-error', 'truncated json');
  },
  garbage: (r) => chat(r.chance(0.5) ? r.bytes(r.int(1, 200)) : b(r.text(80) + '{'), 'client-error', 'garbage'),
  'not an object': (r) =>
    chat(b(r.pick(['null', '[]', '"s"', '1', 'true', '[{"model":"m"}]'])), 'client-error', 'not an object'),
  'wrong type': (r) => {
    const body = validBody(r);
    const field = r.pick(Object.keys(INVALID));
    const bad = r.pick(INVALID[field]);
    if (field === 'role' || field === 'content') (body.messages as Record<string, unknown>[])[0][field] = bad;
    else body[field] = bad;
    if (r.chance(0.2)) delete body[r.pick(['model', 'messages'])];
    return chat(b(body), 'client-error', 'wrong type');
  },
  'deep nesting': (r) => {
    const depth = r.pick([100, 1000, 10_000, 100_000]);
    const where = r.pick(['unknown field', 'content part', 'messages']);
    const inner =
      where === 'messages'
        ? nest(depth, '[', ']', '{"role":"user","content":"hi"}')
        : nest(depth, r.pick(['[', '{"a":']), '', '1');
    const closed =
      where === 'messages' ? inner : inner + (inner.startsWith('[') ? ']'.repeat(depth) : '}'.repeat(depth));
    const text =
      where === 'unknown field'
        ? `{"model":"stub-model","messages":[{"role":"user","content":"hi"}],"extra":${closed}}`
        : where === 'content part'
          ? `{"model":"stub-model","messages":[{"role":"user","content":[{"type":"text","text":"hi","x":${closed}}]}]}`
          : `{"model":"stub-model","messages":${closed}}`;
    // Past the gateway's limit of 128 levels a body is refused with a 400; below it, extra fields are fine.
    return chat(b(text), where === 'messages' || depth > 120 ? 'client-error' : 'ok', `deep nesting (${where})`);
  },
  'huge string': (r, _i, limit) => {
    const over = r.chance(0.5);
    const size = over ? limit + r.int(1, 4096) : Math.floor(limit * 0.9);
    const unit = r.pick(['a', 'é', '😀 ', 'how to ', '\u0000']);
    const body = b({
      model: 'stub-model',
      messages: [
        { role: 'user', content: unit.repeat(Math.ceil(size / Buffer.byteLength(JSON.stringify(unit).slice(1, -1)))) },
      ],
    });
    return chat(
      body,
      body.length > limit ? 'client-error' : 'ok',
      body.length > limit ? 'huge string (over limit)' : 'huge string (under limit)',
    );
  },
  'many messages': (r) =>
    chat(
      b({
        model: 'stub-model',
        messages: Array.from({ length: r.int(500, 5000) }, () => ({ role: 'user', content: 'hi' })),
      }),
      'ok',
      'many messages',
    ),
  'invalid utf-8': (r) => {
    const s = b({ model: 'stub-model', messages: [{ role: 'user', content: 'PLACEHOLDER' }] });
    const at = s.indexOf('PLACEHOLDER');
    const bad = r.pick([
      Buffer.from([0xff]),
      Buffer.from([0xc3]),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from([0xf4, 0x90, 0x80, 0x80]),
      Buffer.from([0xe2, 0x82]),
    ]);
    return chat(
      Buffer.concat([s.subarray(0, at), Buffer.from('ab'), bad, Buffer.from('cd'), s.subarray(at + 11)]),
      'client-error',
      'invalid utf-8',
    );
  },
  'escaped lone surrogate': (r) =>
    chat(
      b(
        `{"model":"stub-model","messages":[{"role":"user","content":"${r.pick(['\\ud800', '\\udfff', '\\ud83d x', 'a\\u0000b'])}"}]}`,
      ),
      'ok',
      'escaped lone surrogate',
    ),
  'content type': (r) => {
    const type = r.pick([
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/xml',
      'json',
      '',
    ]);
    const headers: Record<string, string> = type ? { 'content-type': type } : {};
    return chat(b(validBody(r)), 'client-error', 'wrong content type', headers);
  },
  'content encoding': (r) =>
    chat(b(validBody(r)), 'client-error', 'content encoding', {
      ...JSON_TYPE,
      'content-encoding': r.pick(['gzip', 'br', 'deflate', 'x-fuzz']),
    }),
  'json-like type': (r) =>
    chat(b(validBody(r)), 'ok', 'json-like content type', {
      'content-type': r.pick([
        'application/JSON',
        'application/json; charset=UTF-8',
        'application/vnd.api+json',
        'Application/Json ;charset="utf-8"',
      ]),
    }),
  'smuggled headers': (r, i) => {
    const marker = `fuzz-smuggle-${i}`;
    const names = [
      'x-forwarded-for',
      'x-forwarded-host',
      'forwarded',
      'cookie',
      'x-real-ip',
      'openai-organization',
      'openai-project',
      'x-upstream-authorization',
      'proxy-authorization',
      'x-stainless-arch',
      'x-request-id',
      'traceparent',
      'x-fuzz-inject',
    ];
    const headers: Record<string, string> = { ...JSON_TYPE };
    for (const n of names) if (r.chance(0.5)) headers[n] = marker;
    headers['x-fuzz-inject'] = marker;
    return { ...chat(b(validBody(r)), 'ok', 'smuggled headers', headers), smuggled: marker };
  },
  'method or path': (r) => {
    const [method, path, expect] = r.pick<[string, string, Expect]>([
      ['GET', CHAT, 'client-error'],
      ['PUT', CHAT, 'client-error'],
      ['DELETE', CHAT, 'client-error'],
      ['POST', '/v1/chat', 'client-error'],
      ['POST', '/v1/chat/completions/x', 'client-error'],
      ['POST', '/v1/%00', 'client-error'],
      ['POST', '/v1/../v1/chat/completions', 'either'],
      ['POST', `${CHAT}?stream=true&x=%ff`, 'ok'],
      ['POST', '/v1/engines/x/completions', 'client-error'],
      ['PATCH', '/v1/moderations', 'client-error'],
    ]);
    return {
      kind: 'method or path',
      method,
      path,
      headers: JSON_TYPE,
      body: method === 'GET' ? undefined : b(validBody(r)),
      expect,
    };
  },
  moderations: (r) => {
    const valid = r.chance(0.4);
    const input = valid
      ? r.pick([r.text(), [r.text(), 'hello'], Array.from({ length: 64 }, () => 'x')])
      : r.pick([null, 1, [], [1], {}, Array.from({ length: 65 }, () => 'x'), [null]]);
    const model = r.chance(0.2) ? { model: valid ? 'omni-moderation-latest' : r.pick([1, null, {}]) } : {};
    return {
      kind: 'moderations',
      method: 'POST',
      path: '/v1/moderations',
      headers: JSON_TYPE,
      body: b({ input, ...model }),
      expect: valid ? 'ok' : 'client-error',
    };
  },
  auth: (r) => {
    const header = r.pick<Record<string, string>>([
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'Bearer ' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { 'x-api-key': 'nope' },
      { authorization: 'bearer' },
    ]);
    return { ...chat(b(validBody(r)), 'client-error', 'auth', { ...JSON_TYPE, ...header }), noAuth: true };
  },
};

/** Case `i` of a run: its kind is drawn first, so every kind appears in any few hundred cases. */
export function requestCase(r: Rand, i: number, limit: number): FuzzRequest {
  const names = Object.keys(KINDS);
  return KINDS[names[i % names.length]](r, i, limit);
}
