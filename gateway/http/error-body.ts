import type { ErrorBody, GatewayError } from '../pipeline/errors.js';

/**
 * The body to send for an error, always in OpenAI's shape `{error: {message, type, code, param}}`. An upstream
 * 4xx body is passed through with its own fields, but with `message`, `type`, `code` and `param` filled in where
 * the upstream left them out or gave them the wrong type (found by fuzzing: `{"error":{}}` went out as it was).
 *
 * @example
 * errorBody(new GatewayError('upstream_client_error', 'upstream rejected the request (400)', null, { status: 400, body: { error: {} } as never }))
 * // { error: { message: 'upstream rejected the request (400)', type: 'invalid_request_error', code: null, param: null } }
 */
export function errorBody(e: GatewayError): ErrorBody {
  const body = e.toBody();
  if (!e.passthrough) return body;
  const err = (body.error && typeof body.error === 'object' && !Array.isArray(body.error) ? body.error : {}) as Record<
    string,
    unknown
  >;
  const text = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  return {
    ...body,
    error: {
      ...err,
      message: text(err.message) ?? e.message,
      type: text(err.type) ?? 'invalid_request_error',
      code: typeof err.code === 'string' ? err.code : typeof err.code === 'number' ? String(err.code) : null,
      param: typeof err.param === 'string' ? err.param : null,
    } as ErrorBody['error'],
  };
}
