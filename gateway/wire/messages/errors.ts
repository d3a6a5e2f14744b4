import type { GatewayError } from '../../pipeline/errors.js';

/**
 * Errors on `POST /v1/messages` in Anthropic's shape, `{type: "error", error: {type, message}}`, with the type
 * Anthropic uses for the status (an upstream's own Anthropic error type is kept when it is one of these).
 */
const TYPE_OF_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  408: 'invalid_request_error',
  413: 'request_too_large',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  499: 'api_error',
  503: 'overloaded_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const ANTHROPIC_TYPES = new Set([...Object.values(TYPE_OF_STATUS), 'api_error']);

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

/** The error type for a status: Anthropic's table above, `api_error` for anything else. */
export const errorTypeOf = (status: number) => TYPE_OF_STATUS[status] ?? 'api_error';

/**
 * @example
 * anthropicErrorBody(new GatewayError('invalid_api_key', 'incorrect API key provided'))
 * // { type: 'error', error: { type: 'authentication_error', message: 'incorrect API key provided' } }
 */
export function anthropicErrorBody(e: GatewayError, requestId?: string): AnthropicErrorBody {
  const upstream = e.passthrough?.error as { type?: unknown; message?: unknown } | undefined;
  const ownType = typeof upstream?.type === 'string' && ANTHROPIC_TYPES.has(upstream.type) ? upstream.type : undefined;
  const message = typeof upstream?.message === 'string' && upstream.message ? upstream.message : e.message;
  // The gateway's own 503s (no upstream, no audit log) are api_error; its admission limit is overloaded_error.
  const type =
    ownType ?? (e.code === 'overloaded' ? 'overloaded_error' : e.status === 503 ? 'api_error' : errorTypeOf(e.status));
  return { type: 'error', error: { type, message }, ...(requestId && { request_id: requestId }) };
}
