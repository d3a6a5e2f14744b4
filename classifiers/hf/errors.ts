/**
 * Errors of the `hf-sequence` classifier. A model folder that cannot serve throws `HfModelError` (at
 * `create` for the files and JSON, at `ready()` for the ONNX graph), naming the file and the problem.
 * Calls reject with `HfError`; the policy's onError action (refuse by default) applies: fail closed.
 */
import { ENCODER_ERROR_CODES, type EncoderErrorCode } from '../encoder/errors.js';

/** The same codes as the encoder runtime's, which it shares its worker pool design with: one list. */
export const HF_ERROR_CODES = ENCODER_ERROR_CODES;
export type HfErrorCode = EncoderErrorCode;

/** A call that failed. */
export class HfError extends Error {
  override readonly name = 'HfError';
  constructor(
    readonly code: HfErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A model folder that cannot be used: `file` is the path of the offending file (or the folder itself).
 * @example
 * new HfModelError('/models/pi/config.json', 'has no id2label'); // message: "/models/pi/config.json: has no id2label"
 */
export class HfModelError extends Error {
  override readonly name = 'HfModelError';
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
