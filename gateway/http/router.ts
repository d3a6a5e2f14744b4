import type { IncomingMessage, ServerResponse } from 'node:http';

/** One request as a route sees it: the node:http objects, its path and query, and when it arrived. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  /** The path without the query string, lower-cased, without a trailing slash. */
  path: string;
  /** Query parameters; a repeated name gives an array, as Express's simple parser did. */
  query: Record<string, string | string[]>;
  /** performance.now() when the request arrived. */
  started: number;
}

export type Route = (x: Exchange) => Promise<void> | void;

/**
 * The gateway's routes on plain node:http: an exact match on method and path, nothing else. Every route the
 * gateway serves is static, so a map lookup is the whole router; Express's matching, middleware chain and
 * response helpers cost about a fifth of the chat route's throughput (gateway/README.md, "The HTTP edge").
 * HEAD is answered by the GET route (node:http drops the body).
 *
 * @example
 * const routes = new RouteTable().get('/healthz', ({ res }) => sendJson(res, 200, { status: 'ok' }));
 * routes.find('GET', '/healthz'); // the route
 */
export class RouteTable {
  private readonly byKey = new Map<string, { route: Route; path: string }>();

  get(path: string, route: Route): this {
    return this.add('GET', path, route);
  }

  post(path: string, route: Route): this {
    return this.add('POST', path, route);
  }

  /** The route for a method and a normalised path (see `routePath`), with the path it was registered under. */
  find(method: string | undefined, path: string): { route: Route; path: string } | undefined {
    return this.byKey.get(`${method === 'HEAD' ? 'GET' : method} ${path}`);
  }

  private add(method: string, path: string, route: Route): this {
    const key = `${method} ${routePath(path)}`;
    if (this.byKey.has(key)) throw new Error(`route ${key} is registered twice`);
    this.byKey.set(key, { route, path });
    return this;
  }
}

/** A request URL's path as routes are matched: no query, lower case, no trailing slash. */
export function routePath(url = '/'): string {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).toLowerCase();
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/** The query string of a request URL as an object (a repeated name gives an array). */
export function queryOf(url = '/'): Record<string, string | string[]> {
  const q = url.indexOf('?');
  const query: Record<string, string | string[]> = {};
  if (q < 0) return query;
  for (const [name, value] of new URLSearchParams(url.slice(q + 1))) {
    const seen = query[name];
    query[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

/** Writes a JSON answer in one go, with any extra headers. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}
