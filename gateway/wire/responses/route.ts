import type { ServerResponse } from 'node:http';
import type { ChatMessage } from '../../../generator/types.js';
import type { Caller } from '../../http/auth.js';
import { errorBody } from '../../http/error-body.js';
import { sendJson } from '../../http/router.js';
import { reportUsage, totalTokens } from '../../http/minute-limits.js';
import { begin, decisionHeaders, parseBody, upstreamOrInternal, type ApiRoute } from '../../http/routes.js';
import { keepAlive, startSse, writeNamedEvent } from '../../http/sse.js';
import { GatewayError } from '../../pipeline/errors.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { DEFAULT_STREAM_OPTIONS, openStream } from '../../pipeline/stream.js';
import { ResponseStreamEvents, type ResponseEvent } from './events.js';
import { answerMessage, newId, outputOf, responseObject, responsesUsage } from './from-chat.js';
import { ResponsesBodySchema, type ResponsesBody } from './schema.js';
import type { ResponsesSettings } from './settings.js';
import type { ConversationStore } from './store.js';
import { responsesToChat } from './to-chat.js';
import type { ResponsesUpstreams } from './upstream.js';

export interface ResponsesRouteOptions {
  upstreams: ResponsesUpstreams;
  store: ConversationStore;
  unknownPreviousId: ResponsesSettings['unknownPreviousId'];
}

type Item = Record<string, unknown>;

/**
 * The earlier turns a `previous_response_id` continues: the conversation the gateway judged and answered under
 * that id, for the same API key. An id it does not hold is a 400 (`reject`), or the request is judged on its new
 * turn only (`new-turn`), which the answer's `x-gateway-context` header and the record's `continues` say.
 */
async function historyOf(
  body: ResponsesBody,
  caller: Caller,
  o: ResponsesRouteOptions,
): Promise<{ history: ChatMessage[]; newTurnOnly: boolean }> {
  const id = body.previous_response_id;
  if (!id) return { history: [], newTurnOnly: false };
  const held = await o.store.get(id);
  if (held && held.keyId === caller.keyId) return { history: held.messages, newTurnOnly: false };
  if (o.unknownPreviousId === 'new-turn') return { history: [], newTurnOnly: true };
  throw new GatewayError(
    'invalid_request',
    `previous_response_id: ${id} is not a response this gateway holds (never answered here, for another key, or ` +
      'dropped from its conversation store), so the earlier turns cannot be judged; send them as input instead',
    'previous_response_id',
  );
}

/**
 * POST /v1/responses, the OpenAI Responses API. The request becomes the chat-completions request the pipeline
 * judges (to-chat.ts), so every policy, classifier, redaction and grade applies unchanged and the decision record
 * is the chat route's with `api: "responses"`. The upstream is reached in the Responses format or translated to
 * Chat Completions (`upstream.format`, upstream.ts); the client gets a Response object or the typed events
 * (events.ts) built from the moderated answer. The conversation is kept for `previous_response_id` (store.ts).
 * gateway/wire/responses/README.md has the mapping field by field.
 */
export function responsesRoute(pipeline: Pipeline, o: ResponsesRouteOptions): ApiRoute {
  return async (raw, req, res, caller, started) => {
    const body = parseBody(ResponsesBodySchema, raw);
    const { history, newTurnOnly } = await historyOf(body, caller, o);
    const request = responsesToChat(body, history, o.upstreams.translating);
    const { ctx, signal } = begin(req, res, '/v1/responses', 'responses', caller, started);
    const call = o.upstreams.for(body);
    if (call) ctx.generator = call;
    if (body.previous_response_id)
      ctx.continues = { id: body.previous_response_id, judged: newTurnOnly ? 'new-turn-only' : 'history' };
    // What a later turn continues from: this conversation without the instructions (they are not carried over).
    const conversation = body.instructions ? request.messages.slice(1) : request.messages;
    const remember = async (id: string, output: Item[]) => {
      if (body.store === false) return;
      const answer = answerMessage(output);
      // This turn's own size (the earlier turns are the previous entry's, shared): its input and its answer.
      const size = JSON.stringify(body.input).length + JSON.stringify(answer).length;
      await o.store.set(id, { keyId: caller.keyId, messages: [...conversation, answer], size });
    };
    const headers = (action: string) => ({
      ...decisionHeaders(action, ctx.decisionId),
      ...(newTurnOnly && { 'x-gateway-context': 'new-turn-only' }),
    });

    if (!body.stream) {
      const { completion, action } = await pipeline.complete(request, ctx, signal);
      reportUsage(res, totalTokens(completion.usage));
      const { output, ending } = outputOf(completion, action === 'refuse');
      const upstream = call?.upstream;
      const id = typeof upstream?.id === 'string' ? upstream.id : newId('resp');
      const usage = responsesUsage(completion.usage);
      const model = completion.model || body.model;
      const response = responseObject({
        id,
        createdAt: completion.created,
        model,
        body,
        output,
        ending,
        usage,
        upstream,
      });
      await remember(id, output);
      sendJson(res, 200, response, headers(action));
      return;
    }

    const { action, chunks } = await openStream(pipeline, request, ctx, signal);
    const upstream = call?.upstream;
    const id = typeof upstream?.id === 'string' ? upstream.id : newId('resp');
    const createdAt = typeof upstream?.created_at === 'number' ? upstream.created_at : Math.floor(Date.now() / 1000);
    const model = typeof upstream?.model === 'string' ? upstream.model : body.model;
    const events = new ResponseStreamEvents(
      (output, ending, usage) => responseObject({ id, createdAt, model, body, output, ending, usage, upstream }),
      action === 'refuse',
    );
    startSse(res, headers(action));
    const ka = keepAlive(res, pipeline.streamSettings?.keepAliveMs ?? DEFAULT_STREAM_OPTIONS.keepAliveMs);
    try {
      await send(res, events.start());
      for await (const c of chunks) {
        if (res.destroyed) break;
        await send(res, events.chunk(c));
        ka.touch();
        if (c.usage) reportUsage(res, totalTokens(c.usage));
      }
      if (!res.destroyed) {
        const last = events.end();
        // Kept before the terminal event goes out: a client may continue the conversation as soon as it sees it.
        await remember(id, events.output);
        await send(res, last);
      }
    } catch (e) {
      // Headers are gone: the failure is the stream's `error` event, as the Responses API sends one.
      if (!res.destroyed) await send(res, [events.error(errorBody(upstreamOrInternal(e)).error)]);
    } finally {
      ka.stop();
    }
    res.end();
  };
}

async function send(res: ServerResponse, events: ResponseEvent[]): Promise<void> {
  for (const e of events) if (!res.destroyed) await writeNamedEvent(res, e.type, e);
}
