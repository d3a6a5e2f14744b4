import { z } from 'zod';

/**
 * How an API other than chat completions reaches the upstream (`upstream.format`, GATEWAY_UPSTREAM_FORMAT):
 * - `chat`: always translated to Chat Completions, which every OpenAI-compatible server speaks;
 * - `native`: always passed through in the API's own wire format (`/v1/responses` on vLLM or OpenAI, `/v1/messages`
 *   on an Anthropic-compatible server);
 * - `auto`: for the Responses API, passed through and translated to Chat Completions once the upstream answers 404
 *   to the native path; for the Messages API, native when the upstream is Anthropic's own host, chat otherwise
 *   (an OpenAI-compatible server answers /v1/messages with anything from 404 to a wrong-shaped 200).
 */
export const UPSTREAM_FORMATS = ['chat', 'native', 'auto'] as const;
export type UpstreamFormat = (typeof UPSTREAM_FORMATS)[number];

export const UpstreamFormatSchema = z.enum(UPSTREAM_FORMATS).default('auto');

/**
 * @example messagesUpstreamFormat('auto', 'https://api.anthropic.com/v1') // 'native'
 */
export function messagesUpstreamFormat(format: UpstreamFormat, url: string | undefined): 'chat' | 'native' {
  if (format !== 'auto') return format;
  const host = url ? new URL(url).hostname : '';
  return host === 'anthropic.com' || host.endsWith('.anthropic.com') ? 'native' : 'chat';
}
