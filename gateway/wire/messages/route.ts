import type { ServerResponse } from 'node:http';
import { GatewayError, toGatewayError } from '../../pipeline/errors.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { DEFAULT_STREAM_OPTIONS, openStream } from '../../pipeline/stream.js';
import { sendJson } from '../../http/router.js';
import { reportUsage, totalTokens } from '../../http/minute-limits.js';
import { begin, decisionHeaders, parseBody, type ApiRoute } from '../../http/routes.js';
import { keepAlive, startSse, writeNamedEvent } from '../../http/sse.js';
import { anthropicErrorBody } from './errors.js';
import { MessagesEventEncoder, type MessagesEvent } from './events.js';
import { withNative } from './native-body.js';
import { MessagesBodySchema } from './schema.js';
import { serverTools, toChat } from './to-chat.js';
import { toMessage } from './to-message.js';

/** The version assumed when a client sends none (the one every Anthropic SDK still accepts). */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

const writeNamed = (res: ServerResponse, { event, data }: MessagesEvent) => writeNamedEvent(res, event, data);

/**
 * `POST /v1/messages`, the Anthropic Messages API. The body is translated into the chat request the pipeline
 * judges (to-chat.ts), so every policy, classifier, redaction and grade applies unchanged and the decision record
 * says `api: "messages"`. With `native`, the upstream is Anthropic-compatible: the client's body (with whatever the
 * input stage changed written back) goes to its `/messages`, and its answer is judged in the chat shape. The client
 * always gets the Messages API's shape: a message, or its event stream.
 *
 * @example routes.post('/v1/messages', api(messagesRoute(pipeline, { native: false })));
 */
export function messagesRoute(pipeline: Pipeline, { native }: { native: boolean }): ApiRoute {
  return async (raw, req, res, caller, started) => {
    const version = one(req.headers['anthropic-version']) ?? DEFAULT_ANTHROPIC_VERSION;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(version))
      throw new GatewayError(
        'invalid_request',
        `anthropic-version: "${version}" is not a version date such as 2023-06-01`,
      );
    const body = parseBody(MessagesBodySchema, raw);
    const translated = toChat(body);
    let request = translated.request;
    if (native) {
      const beta = one(req.headers['anthropic-beta']);
      const headers = { 'anthropic-version': version, ...(beta && { 'anthropic-beta': beta }) };
      request = withNative(request, { body, slots: translated.slots, translated: request, headers });
    } else if (serverTools(body).length) {
      throw new GatewayError(
        'invalid_request',
        `tools: ${serverTools(body).join(', ')} run on Anthropic's servers; they need GATEWAY_UPSTREAM_FORMAT=native`,
        'tools',
      );
    }
    const { ctx, signal } = begin(req, res, '/v1/messages', 'messages', caller, started);
    const headers = (action: string) => ({ ...decisionHeaders(action, ctx.decisionId), 'request-id': ctx.decisionId });
    if (!body.stream) {
      const { completion, action } = await pipeline.complete(request, ctx, signal);
      reportUsage(res, totalTokens(completion.usage));
      sendJson(res, 200, toMessage(completion, body.model), headers(action));
      return;
    }
    const { action, chunks } = await openStream(pipeline, request, ctx, signal);
    startSse(res, headers(action));
    const ka = keepAlive(res, pipeline.streamSettings?.keepAliveMs ?? DEFAULT_STREAM_OPTIONS.keepAliveMs);
    const encoder = new MessagesEventEncoder(body.model);
    try {
      for await (const c of chunks) {
        if (res.destroyed) break;
        for (const e of encoder.push(c)) await writeNamed(res, e);
        ka.touch();
        if (c.usage) reportUsage(res, totalTokens(c.usage));
      }
      if (!res.destroyed) for (const e of encoder.end()) await writeNamed(res, e);
    } catch (e) {
      // Headers are gone: the failure is an `error` event, which the Anthropic SDKs raise as an APIError.
      if (!res.destroyed) {
        for (const ev of encoder.abort()) await writeNamed(res, ev);
        await writeNamed(res, { event: 'error', data: { ...anthropicErrorBody(toGatewayError(e)) } });
      }
    } finally {
      ka.stop();
    }
    res.end();
  };
}
