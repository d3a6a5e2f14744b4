import { type Agent, request } from 'undici';
import type { Expect, FuzzRequest } from './requests.js';

/** What one request got, and what was wrong with it (none: `problem` unset). */
export interface Outcome {
  kind: string;
  /** Set by the upstream fuzzer: the broken answer the upstream sent. */
  scenario?: string;
  /** The HTTP status, or `timeout` (no full answer in time: a hang) or `error` (connection failed: a crash?). */
  status: number | 'timeout' | 'error';
  problem?: string;
  /** For a 200 event stream: `done`, or the code of the error event it ended with. */
  end?: string;
}

/** The histogram key of an outcome: `200`, `200 stream:done`, `200 stream:upstream_error`, `415`, `timeout`. */
export const statusKey = (o: Outcome) => (o.end ? `${o.status} stream:${o.end}` : String(o.status));

/** True when a body is `{error: {message, type, code, param}}` with a message and a type. */
export function isOpenAIError(body: unknown): boolean {
  const e = (body as { error?: Record<string, unknown> } | null)?.error;
  return (
    !!e &&
    typeof e === 'object' &&
    typeof e.message === 'string' &&
    e.message.length > 0 &&
    typeof e.type === 'string' &&
    'code' in e &&
    'param' in e
  );
}

/** Content the output stage can read: a string, or nothing. Anything else would reach the client unchecked. */
const textOrNone = (v: unknown) => v === undefined || v === null || typeof v === 'string';

/** Checks a streamed body: every event is JSON or `[DONE]`, and it ends with `[DONE]` or an error event. */
export function checkSse(text: string): string | undefined {
  const events = text.split(/\n\n/).filter((e) => e.trim() && !e.startsWith(':'));
  if (!events.length) return 'empty event stream';
  let last: unknown;
  for (const e of events) {
    const data = e.replace(/^data: /, '');
    if (data === '[DONE]') return undefined;
    try {
      last = JSON.parse(data);
    } catch {
      return `event is not JSON: ${data.slice(0, 80)}`;
    }
    const choices = (last as { choices?: { delta?: { content?: unknown } }[] }).choices;
    if (!isOpenAIError(last) && !Array.isArray(choices)) return `chunk without a choices array: ${data.slice(0, 80)}`;
    const bad = choices?.find((c) => !textOrNone(c?.delta?.content));
    if (bad) return `chunk whose content is not text went to the client unchecked: ${data.slice(0, 80)}`;
  }
  if (!isOpenAIError(last)) return 'stream ended without [DONE] or an error event';
  const code = (last as { error: { code: unknown } }).error.code;
  return code === 'internal_error' ? `stream ended with an internal error event: ${JSON.stringify(last)}` : undefined;
}

const fits = (expect: Expect, status: number) =>
  status === 200
    ? expect !== 'client-error'
    : status >= 400 && status < 500
      ? expect !== 'ok'
      : expect === 'upstream-fault' && (status === 502 || status === 504);

/**
 * Sends one case and judges the answer: 200 only for valid requests (a JSON completion or a well-formed event
 * stream), a 4xx in OpenAI's error shape for invalid ones, never a 5xx, a dropped connection or a hang.
 */
export async function send(
  dispatcher: Agent,
  base: string,
  c: FuzzRequest,
  authHeader: Record<string, string>,
  timeoutMs: number,
): Promise<Outcome> {
  const headers = c.noAuth ? c.headers : { ...authHeader, ...c.headers };
  let status: number;
  let text: string;
  let type: string;
  try {
    const res = await request(base + c.path, {
      dispatcher,
      method: c.method as 'POST',
      headers,
      body: c.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.statusCode;
    type = String(res.headers['content-type'] ?? '');
    text = await res.body.text();
  } catch (e) {
    const name = (e as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError')
      return { kind: c.kind, status: 'timeout', problem: `no answer within ${timeoutMs} ms` };
    return { kind: c.kind, status: 'error', problem: `connection failed: ${(e as Error).message}` };
  }
  const out: Outcome = { kind: c.kind, status };
  if (status >= 500 && !fits(c.expect, status)) out.problem = `${status}: ${text.slice(0, 200)}`;
  else if (!fits(c.expect, status)) out.problem = `${status} where ${c.expect} was expected: ${text.slice(0, 200)}`;
  else if (status === 200 && type.startsWith('text/event-stream')) {
    out.problem = checkSse(text);
    out.end = /\ndata: \[DONE\]\n\n$|^data: \[DONE\]/.test(text)
      ? 'done'
      : (/"code":"([a-z_]+)"[^\n]*\n\n$/.exec(text)?.[1] ?? 'cut');
  } else {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      out.problem = `${status} with a body that is not JSON: ${text.slice(0, 120)}`;
      return out;
    }
    if (status >= 400 && !isOpenAIError(body))
      out.problem = `${status} not in OpenAI's error shape: ${text.slice(0, 120)}`;
    const choices = (body as { choices?: { message?: { content?: unknown } }[] })?.choices;
    if (status === 200 && c.path.includes('/chat/')) {
      if (!Array.isArray(choices)) out.problem = `200 without a choices array: ${text.slice(0, 120)}`;
      else if (choices.some((ch) => !textOrNone(ch?.message?.content)))
        out.problem = `content that is not text went to the client unchecked: ${text.slice(0, 120)}`;
    }
  }
  return out;
}
