import { serveLocal, type LocalServer } from './local-server.js';

/**
 * A model server that answers with tool calls: a real HTTP server speaking the OpenAI chat completions wire, in
 * JSON and in SSE. The request's `model` names the script to play: the calls to make (and optional text first),
 * e.g. `{ "rm-root": { calls: [{ name: 'shell', arguments: '{"command":"rm -rf /"}' }] } }`; the script is not in
 * the prompt, so the input stage never reads it. Streamed, each call's arguments arrive in pieces of `chunkChars` characters, the OpenAI way (the id and name
 * first, then the pieces at the same index), and the stream ends with `finish_reason: "tool_calls"`.
 */
export interface ToolUpstream extends LocalServer {
  /** Every request body it received, parsed. */
  bodies: Record<string, unknown>[];
}

export interface ToolScript {
  calls: { name: string; arguments: string }[];
  content?: string;
}

export async function startToolUpstream(
  scripts: Record<string, ToolScript>,
  { chunkChars = 5 } = {},
): Promise<ToolUpstream> {
  const bodies: Record<string, unknown>[] = [];
  const server = await serveLocal(async (req, res) => {
    let raw = '';
    for await (const c of req) raw += String(c);
    const body = JSON.parse(raw) as Record<string, unknown>;
    bodies.push(body);
    const { calls, content } = scripts[String(body.model)] ?? { calls: [], content: 'no such script' };
    const base = { id: 'chatcmpl-tools', created: 1_700_000_000, model: String(body.model) };
    const toolCalls = calls.map((c, i) => ({ id: `call_${i}`, type: 'function', function: c }));
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      const message = { role: 'assistant', content: content ?? null, tool_calls: toolCalls };
      return res.end(
        JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message, finish_reason: 'tool_calls' }],
        }),
      );
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (delta: object, finish: string | null = null) =>
      res.write(
        `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
      );
    send({ role: 'assistant', content: content ?? null });
    calls.forEach((c, index) => {
      send({
        tool_calls: [{ index, id: `call_${index}`, type: 'function', function: { name: c.name, arguments: '' } }],
      });
      for (let at = 0; at < c.arguments.length; at += chunkChars)
        send({ tool_calls: [{ index, function: { arguments: c.arguments.slice(at, at + chunkChars) } }] });
    });
    send({}, 'tool_calls');
    res.end('data: [DONE]\n\n');
  });
  return { ...server, bodies };
}
