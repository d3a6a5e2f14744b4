import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * The console's Content-Security-Policy: scripts, styles and connections from the gateway itself only, no inline
 * script or style elements, no plugins, no framing. Record content is attacker-written; even if some text were
 * ever rendered as markup, nothing in it could run.
 */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/** Headers on every console response, pages and JSON alike. */
export const SECURITY_HEADERS = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
} as const;

/** Where `node scripts/build.mjs` writes the bundle: dist/console, beside dist/gateway. */
export const ASSETS_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

export const ASSETS = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
} as const;

/** Sends one built asset, or a 503 saying how to build it when the bundle is missing. */
export function sendAsset(res: ServerResponse, name: keyof typeof ASSETS, dir = ASSETS_DIR): void {
  let body: Buffer;
  try {
    body = readFileSync(`${dir}${name}`);
  } catch {
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    res.end('the console is not built: run `node scripts/build.mjs`\n');
    return;
  }
  res.writeHead(200, { 'content-type': ASSETS[name], 'content-length': body.length, ...SECURITY_HEADERS });
  res.end(body);
}
