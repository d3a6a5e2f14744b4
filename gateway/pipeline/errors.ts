/**
 * Errors the gateway answers with, in OpenAI's shape `{error: {message, type, code, param}}`. The codes are a
 * closed union (audit/types.ts's GATEWAY_ERROR_CODES, since decision records name them too) and each maps to one
 * HTTP status, so a new code without a status does not compile, nor a status for a code that is not listed.
 */
import type { GatewayErrorCode } from '../../audit/types.js';

export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_json: 400,
  invalid_api_key: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  /** The request's headers or body did not arrive within the configured time. */
  request_timeout: 408,
  overloaded: 429,
  rate_limited: 429,
  upstream_not_configured: 503,
  upstream_error: 502,
  upstream_timeout: 504,
  /** An upstream 4xx, passed through with its own status. */
  upstream_client_error: 400,
  /** The upstream's answer passed the gateway's cap on its size or a stream's length: the gateway cut it. */
  answer_too_large: 502,
  not_ready: 503,
  audit_unavailable: 503,
  /** A policy candidate (admin reload) that failed validation or its tests; the last good one stays. */
  policy_invalid: 422,
  internal_error: 500,
} as const satisfies Record<GatewayErrorCode, number>;

export type ErrorCode = GatewayErrorCode;

const TYPE: Record<ErrorCode, string> = {
  invalid_request: 'invalid_request_error',
  invalid_json: 'invalid_request_error',
  invalid_api_key: 'authentication_error',
  forbidden: 'permission_error',
  not_found: 'invalid_request_error',
  payload_too_large: 'invalid_request_error',
  unsupported_media_type: 'invalid_request_error',
  request_timeout: 'invalid_request_error',
  overloaded: 'rate_limit_error',
  rate_limited: 'rate_limit_error',
  upstream_not_configured: 'api_error',
  upstream_error: 'api_error',
  upstream_timeout: 'api_error',
  upstream_client_error: 'invalid_request_error',
  answer_too_large: 'api_error',
  not_ready: 'api_error',
  audit_unavailable: 'api_error',
  policy_invalid: 'invalid_request_error',
  internal_error: 'api_error',
};

export interface ErrorBody {
  error: { message: string; type: string; code: string; param: string | null };
}

/** An error that carries its HTTP status and OpenAI-style body. */
export class GatewayError extends Error {
  override name = 'GatewayError';
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    options?: { status?: number; cause?: unknown; body?: ErrorBody; details?: object },
  ) {
    super(message, { cause: options?.cause });
    this.status = options?.status ?? ERROR_STATUS[code];
    this.passthrough = options?.body;
    this.details = options?.details;
  }

  /** For upstream 4xx: the upstream's own error body, passed through. */
  readonly passthrough?: ErrorBody;
  /** Members sent beside `error` (a rejected policy reload's faults and revisions). */
  readonly details?: object;

  toBody(): ErrorBody {
    return (
      this.passthrough ?? {
        ...this.details,
        error: { message: this.message, type: TYPE[this.code], code: this.code, param: this.param },
      }
    );
  }
}

/** Anything unknown becomes an internal error that keeps its cause. */
export function toGatewayError(e: unknown): GatewayError {
  if (e instanceof GatewayError) return e;
  return new GatewayError('internal_error', 'internal error', null, { cause: e });
}
