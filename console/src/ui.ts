import { html } from 'htm/preact';
import type { VNode } from 'preact';

/**
 * Kept text with its redactions shown as marked spans. Everything here is a text node: record content is
 * attacker-written, and Preact escapes text, so a `<script>` in a prompt shows as the characters it is.
 */
export function RedactedText({ text }: { text: string }): VNode {
  const parts = text.split(/(\[REDACTED:[^\]]*\]|\[masked\])/g);
  return html`<pre class="content">
${parts.map((p, i) => (i % 2 === 1 ? html`<mark class="redaction" title="redacted span">${p}</mark>` : p))}</pre>`;
}

/** A record's content as its content mode allows: text, a digest, or nothing. */
export function Content({ label, value, mode }: { label: string; value: unknown; mode: string }): VNode {
  let body: VNode | string;
  if (typeof value === 'string') body = html`<${RedactedText} text=${value} />`;
  else if (value && typeof value === 'object' && 'sha256' in value)
    body = html`<code class="hash">sha256 ${String((value as { sha256: unknown }).sha256)}</code>`;
  else body = html`<em>not kept (content mode "${mode}")</em>`;
  return html`<div class="field">
    <h4>${label}</h4>
    ${body}
  </div>`;
}

export const Json = ({ value }: { value: unknown }) => html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;

export const ActionBadge = ({ action }: { action: string | null }) =>
  action ? html`<span class=${`badge a-${action}`}>${action}</span>` : html`<span class="muted">—</span>`;

export const ErrorNote = ({ error }: { error: string | null }) =>
  error ? html`<p class="error" role="alert">${error}</p>` : null;

export const time = (iso: string) => new Date(iso).toLocaleString();

/** Runs an async action and returns its error message instead of throwing (for handlers). */
export async function attempt(run: () => Promise<void>, onError: (m: string | null) => void): Promise<void> {
  onError(null);
  try {
    await run();
  } catch (e) {
    onError((e as Error).message);
  }
}
