import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WireApi } from '../../audit/types.js';
import type { ChatRequest } from '../../generator/types.js';
import { GatewayError, toGatewayError } from '../pipeline/errors.js';
import { moderate } from '../pipeline/moderate.js';
import { newDecisionId, upstreamError, type Pipeline, type RequestContext } from '../pipeline/pipeline.js';
import { DEFAULT_STREAM_OPTIONS, openStream } from '../pipeline/stream.js';
import type { Caller } from './auth.js';
import { errorBody } from './error-body.js';
import { reportUsage, totalTokens } from './minute-limits.js';
import { keepAlive, startSse, writeEvent } from './sse.js';
import { ChatBodySchema, ModerationBodySchema, paramOf } from './schemas.js';
import { sendJson } from './router.js';
import type { z } from 'zod';

/** Validates a body with zod; a failure is a 400 whose `param` names the first bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new GatewayError('invalid_request', 'the request body must be a JSON object');
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const [issue] = parsed.error.issues;
  const param = issue ? paramOf(issue.path) : null;
  throw new GatewayError('invalid_request', `${param ?? 'body'}: ${issue?.message ?? 'invalid'}`, param);
}

/**
 * The request's context, and an AbortSignal that fires when the client goes away before the answer. The
 * decision id is registered in `decisionIds` too, for the error responder and the request log.
 */
export function begin(
  req: IncomingMessage,
  res: ServerResponse,
  route: string,
  api: WireApi,
  caller: Caller,
  started: number,
): { ctx: RequestContext; signal: AbortSignal } {
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  const ctx: RequestContext = {
    decisionId: newDecisionId(),
    keyId: caller.keyId,
    tenant: caller.tenant,
    api,
    headers: req.headers,
    route,
    started,
  };
  decisionIds.set(res, ctx.decisionId);
  return { ctx, signal: controller.signal };
}

/** The decision id of a response's request, once the route has begun (for error responses and logs). */
export const decisionIds = new WeakMap<ServerResponse, string>();

export const decisionHeaders = (action: string, id: string) => ({
  'x-gateway-decision': action,
  'x-gateway-decision-id': id,
});

/** An API route: the request is authenticated, admitted and its JSON body read (for POST) before this runs. */
export type ApiRoute = (
  body: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  caller: Caller,
  started: number,
) => Promise<void>;

/**
 * The OpenAI-compatible API routes: POST /v1/chat/completions, POST /v1/moderations and GET /v1/models. Each
 * adapts HTTP to the pipeline and back; the pipeline does the work.
 */
export function apiRoutes(pipeline: Pipeline): { chat: ApiRoute; moderations: ApiRoute; models: ApiRoute } {
  const chat: ApiRoute = async (raw, req, res, caller, started) => {
    const body = parseBody(ChatBodySchema, raw) as ChatRequest;
    const { ctx, signal } = begin(req, res, '/v1/chat/completions', 'chat.completions', caller, started);
    if (!body.stream) {
      const { completion, action } = await pipeline.complete(body, ctx, signal);
      reportUsage(res, totalTokens(completion.usage));
      sendJson(res, 200, completion, decisionHeaders(action, ctx.decisionId));
      return;
    }
    const { action, chunks } = await openStream(pipeline, body, ctx, signal);
    startSse(res, decisionHeaders(action, ctx.decisionId));
    const ka = keepAlive(res, pipeline.streamSettings?.keepAliveMs ?? DEFAULT_STREAM_OPTIONS.keepAliveMs);
    try {
      for await (const c of chunks) {
        if (res.destroyed) break;
        await writeEvent(res, c);
        ka.touch();
        // The upstream's usage chunk (stream_options.include_usage), when it sends one.
        if (c.usage) reportUsage(res, totalTokens(c.usage));
      }
      if (!res.destroyed) await writeEvent(res, '[DONE]');
    } catch (e) {
      // Headers are gone: report the failure as an error event, as OpenAI's streaming API does.
      if (!res.destroyed) await writeEvent(res, errorBody(upstreamOrInternal(e)));
    } finally {
      ka.stop();
    }
    res.end();
  };

  const moderations: ApiRoute = async (raw, req, res, caller, started) => {
    const body = parseBody(ModerationBodySchema, raw);
    const { ctx, signal } = begin(req, res, '/v1/moderations', 'moderations', caller, started);
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    const out = await moderate(pipeline, inputs, ctx, signal);
    sendJson(res, 200, out, decisionHeaders(out.gateway.action, ctx.decisionId));
  };

  const models: ApiRoute = async (_raw, req, res, caller, started) => {
    const generator = pipeline.requireGenerator();
    const { signal } = begin(req, res, '/v1/models', 'models', caller, started);
    if (!generator.models) throw new GatewayError('not_found', 'this upstream does not list models');
    let list: unknown;
    try {
      list = await generator.models(signal);
    } catch (e) {
      throw upstreamError(e);
    }
    sendJson(res, 200, list);
  };

  return { chat, moderations, models };
}

export const upstreamOrInternal = (e: unknown) => (e instanceof GatewayError ? e : toGatewayError(e));
