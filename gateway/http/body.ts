import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import { depthPast } from '../../policies/depth.js';
import { GatewayError } from '../pipeline/errors.js';

/**
 * How deep a request body may nest objects and arrays. Far past any real request (tool schemas included), and
 * far short of what JSON.stringify and the validators can recurse through: a body nested 10,000 levels deep
 * used to overflow the stack while being forwarded and come back as a misleading 502.
 */
export const MAX_BODY_DEPTH = 128;

/**
 * Reads a JSON request body: 415 unless `Content-Type` is JSON in UTF-8, 413 past `limit` bytes (checked on
 * Content-Length first, then while reading), 408 when the whole body has not arrived `timeoutMs` after the
 * headers (a client trickling a body would otherwise hold its socket and memory for ever), 400 for invalid
 * UTF-8, malformed JSON or nesting past MAX_BODY_DEPTH. One Buffer.concat and one JSON.parse, no charset
 * conversion layer. Rejects with the GatewayError to send.
 *
 * @example const body = await readJsonBody(req, 1 << 20, 30_000);
 */
export function readJsonBody(req: IncomingMessage, limit: number, timeoutMs = Infinity): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  const [mime, ...params] = type
    .toLowerCase()
    .split(';')
    .map((s) => s.trim());
  if (mime !== 'application/json' && !/^application\/[\w.+-]+\+json$/.test(mime ?? '')) {
    return Promise.reject(
      new GatewayError('unsupported_media_type', 'send the body as JSON with "Content-Type: application/json"'),
    );
  }
  const charset = params
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replace(/"/g, '');
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    return Promise.reject(new GatewayError('unsupported_media_type', `unsupported charset "${charset}"; send UTF-8`));
  }
  if (req.headers['content-encoding'] && req.headers['content-encoding'] !== 'identity') {
    return Promise.reject(
      new GatewayError('unsupported_media_type', `unsupported content encoding "${req.headers['content-encoding']}"`),
    );
  }
  const tooLarge = () =>
    new GatewayError('payload_too_large', `request body is larger than the limit of ${limit} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const timer =
      timeoutMs === Infinity
        ? undefined
        : setTimeout(() => {
            if (failed) return;
            failed = true;
            chunks.length = 0;
            reject(new GatewayError('request_timeout', `the request body did not arrive within ${timeoutMs} ms`));
          }, timeoutMs);
    req.once('close', () => clearTimeout(timer));
    req.on('data', (c: Buffer) => {
      if (failed) return;
      size += c.length;
      if (size > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => {
      if (!failed) {
        failed = true;
        reject(new GatewayError('invalid_request', 'the request was aborted while its body was being read'));
      }
    });
    req.on('end', () => {
      clearTimeout(timer);
      if (failed) return;
      const [only] = chunks;
      const bytes = chunks.length === 1 && only ? only : Buffer.concat(chunks);
      // Invalid bytes would otherwise become U+FFFD silently: the model would get a text the client never sent.
      if (!isUtf8(bytes)) return reject(new GatewayError('invalid_json', 'request body is not valid UTF-8'));
      let body: unknown;
      try {
        body = JSON.parse(bytes.toString('utf8'));
      } catch (e) {
        return reject(new GatewayError('invalid_json', `request body is not valid JSON: ${(e as Error).message}`));
      }
      const deep = depthPast(body, MAX_BODY_DEPTH);
      if (deep !== undefined)
        return reject(
          new GatewayError(
            'invalid_request',
            `request body is nested more than ${MAX_BODY_DEPTH} levels deep (at ${deep})`,
            deep,
          ),
        );
      resolve(body);
    });
  });
}
