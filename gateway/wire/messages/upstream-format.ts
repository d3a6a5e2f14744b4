import { z } from 'zod';

/**
 * `upstream.format` (`GATEWAY_UPSTREAM_FORMAT`): how a non-chat API reaches the upstream. `chat`: translated to
 * chat completions (any OpenAI-compatible server). `native`: sent in the API's own wire format to the upstream's
 * own endpoint (`/messages` for the Messages API). `auto`: native when the upstream is the API's own vendor
 * (api.anthropic.com for the Messages API), chat otherwise.
 */
export const UpstreamFormatSchema = z.enum(['chat', 'native', 'auto']).default('auto');

export type UpstreamFormat = z.infer<typeof UpstreamFormatSchema>;

/**
 * @example messagesUpstreamFormat('auto', 'https://api.anthropic.com/v1') // 'native'
 */
export function messagesUpstreamFormat(format: UpstreamFormat, url: string | undefined): 'chat' | 'native' {
  if (format !== 'auto') return format;
  const host = url ? new URL(url).hostname : '';
  return host === 'anthropic.com' || host.endsWith('.anthropic.com') ? 'native' : 'chat';
}
