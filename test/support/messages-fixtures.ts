import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import type { ScriptedAnswer } from './anthropic-stub.js';

/** A secret the default pack redacts (its `api_key` detector), in tool arguments and tool results alike. */
export const SECRET = 'sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz012345';

/** A long answer with a violation far enough in that text has been released before the cut. */
export const LONG_ANSWER = `${'word '.repeat(150)}FORBIDDEN${' tail'.repeat(20)}`;

/** The stub's script: `tool …` calls a tool with the secret in its input, `long …` answers LONG_ANSWER. */
export function scripted(prompt: string): ScriptedAnswer {
  if (prompt.startsWith('tool'))
    return { text: 'Let me look that up.', tool: { name: 'lookup', input: { query: 'weather', token: SECRET } } };
  if (prompt.startsWith('long')) return { text: LONG_ANSWER };
  return { text: `Echo: ${prompt}` };
}

/**
 * The default pack plus one output rule that refuses answers containing FORBIDDEN, in a temporary folder: the
 * default pack's desired-style refusals and redactions, and a way to cut a stream midway.
 */
export function defaultPackPlusForbidden(): string {
  const path = join(import.meta.dirname, '..', '..', '..', 'policies', 'rules-only', 'policy.json');
  const policy = JSON.parse(readFileSync(path, 'utf8')) as {
    $schema?: string;
    classifiers: unknown[];
    rules: unknown[];
  };
  delete policy.$schema;
  policy.classifiers.push({
    id: 'words',
    type: 'rules',
    params: { keywords: [{ label: 'forbidden', words: ['FORBIDDEN'] }] },
  });
  policy.rules.push({
    id: 'no-forbidden',
    stage: 'output',
    when: { classifier: 'words', label: 'forbidden', threshold: 0.5 },
    action: 'refuse',
    message: "I can't share that answer. I'm happy to help with a different question.",
  });
  const dir = mkdtempSync(join(tmpdir(), 'gw-messages-policy-'));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
  return dir;
}

export interface NamedEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Posts a streamed Messages request and reads every named SSE event. */
export async function messagesSse(
  url: string,
  body: object,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Headers; events: NamedEvent[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const events: NamedEvent[] = [];
  const parser = createParser({
    onEvent: (e) => events.push({ event: e.event ?? 'message', data: JSON.parse(e.data) as Record<string, unknown> }),
  });
  parser.feed(await res.text());
  return { status: res.status, headers: res.headers, events };
}

/** The text a Messages event stream carried (every text_delta), and each tool_use block's input JSON. */
export function streamed(events: NamedEvent[]): { text: string; tools: string[]; stop: unknown } {
  let text = '';
  const tools = new Map<unknown, string>();
  let stop: unknown;
  for (const { data } of events) {
    const d = data.delta as Record<string, unknown> | undefined;
    if (data.type === 'content_block_delta' && d?.type === 'text_delta') text += String(d.text);
    if (data.type === 'content_block_delta' && d?.type === 'input_json_delta')
      tools.set(data.index, (tools.get(data.index) ?? '') + String(d.partial_json));
    if (data.type === 'message_delta') stop = d?.stop_reason;
  }
  return { text, tools: [...tools.values()], stop };
}
