/**
 * Portkey's gateway (node_modules/@portkey-ai/gateway) on port 8787, with one shim: responses from `fetch` are
 * re-wrapped so their headers are mutable. Portkey 1.15 appends headers to the upstream's response, which
 * Node's fetch marks immutable, so every streamed request fails with `TypeError: immutable` (Portkey-AI/gateway
 * issues #1389 and #1550; the proposed fix, PR #1551, clones the response the same way).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const fetch0 = globalThis.fetch;
globalThis.fetch = async (...args: Parameters<typeof fetch>) => {
  const res = await fetch0(...args);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers: res.headers });
};
await import(
  pathToFileURL(join(import.meta.dirname, '..', '..', '..', 'node_modules/@portkey-ai/gateway/build/start-server.js'))
    .href
);
