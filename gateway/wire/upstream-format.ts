import { z } from 'zod';

/**
 * How an API other than chat completions reaches the upstream (`upstream.format`, GATEWAY_UPSTREAM_FORMAT):
 * - `chat`: always translated to Chat Completions, which every OpenAI-compatible server speaks;
 * - `native`: always passed through in the API's own wire format (e.g. `/v1/responses` on vLLM or OpenAI);
 * - `auto`: passed through, and translated to Chat Completions once the upstream answers 404 to the native path.
 */
export const UPSTREAM_FORMATS = ['chat', 'native', 'auto'] as const;
export type UpstreamFormat = (typeof UPSTREAM_FORMATS)[number];

export const UpstreamFormatSchema = z.enum(UPSTREAM_FORMATS).default('auto');
