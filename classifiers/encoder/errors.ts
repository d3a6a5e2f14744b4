/**
 * Errors of the encoder runtime. Every failure rejects with an `EncoderError`; callers treat any of them
 * as a classifier error, and the policy's onError action (refuse by default) applies: fail closed.
 */
export const ENCODER_ERROR_CODES = [
  'TIMEOUT',
  'ABORTED',
  'OVERLOADED',
  'CLOSED',
  'LOAD_FAILED',
  'INFERENCE_FAILED',
] as const;
export type EncoderErrorCode = (typeof ENCODER_ERROR_CODES)[number];

const MESSAGES: Record<EncoderErrorCode, string> = {
  TIMEOUT: 'the encoder did not answer within the call timeout',
  ABORTED: 'the caller aborted the call',
  OVERLOADED: 'the encoder queue is full',
  CLOSED: 'the encoder is closed',
  LOAD_FAILED: 'the encoder model could not be loaded',
  INFERENCE_FAILED: 'the encoder model failed to run',
};

/**
 * @example
 * try {
 *   await encoder.embed([text], signal);
 * } catch (e) {
 *   if (e instanceof EncoderError && e.code === 'TIMEOUT') { … }
 * }
 */
export class EncoderError extends Error {
  override readonly name = 'EncoderError';
  constructor(
    readonly code: EncoderErrorCode,
    message: string = MESSAGES[code],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Wraps anything thrown into an `EncoderError`, keeping the original as `cause`. */
export function toEncoderError(error: unknown, code: EncoderErrorCode = 'INFERENCE_FAILED'): EncoderError {
  if (error instanceof EncoderError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new EncoderError(code, `${MESSAGES[code]}: ${detail}`, { cause: error });
}
