import type { Dispatcher } from 'undici';
import { GeneratorError } from './types.js';

/**
 * The error for an upstream answer of status 400 or more: its body parsed as JSON where it is JSON (kept as text
 * otherwise) and scrubbed of the upstream's credentials, so a 4xx can be passed through to the client safely.
 */
export async function upstreamStatusError(
  res: Dispatcher.ResponseData,
  scrub: (body: unknown) => unknown,
): Promise<GeneratorError> {
  const text = await res.body.text().catch(() => '');
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* keep the text */
  }
  return new GeneratorError('upstream_status', `upstream answered ${res.statusCode}`, res.statusCode, scrub(parsed));
}
