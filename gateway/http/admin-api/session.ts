import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../../pipeline/errors.js';
import type { adminKeyChecker } from '../admin.js';

/** The session cookie: HttpOnly (no script reads it), SameSite=Strict, scoped to the console's paths. */
export const COOKIE = 'gw_console';
const MAX_AGE_S = 8 * 3600;
/** Wrong keys one address may try per minute before logins from it are refused (429) for the rest of it. */
export const LOGIN_FAILURES_PER_MINUTE = 10;

interface Session {
  csrf: string;
  expires: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex');
const token = () => randomBytes(32).toString('base64url');

/** Reads one cookie from the Cookie header. */
export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * The console's sessions, held in this process: a login with an admin key opens one, and the browser holds only
 * a random id in an HttpOnly cookie (the key itself is never stored in the browser). Ids are kept hashed, so a
 * heap dump does not hand out live sessions. Every state-changing request also carries the session's CSRF token
 * in `x-csrf-token`, which a page on another origin cannot read.
 *
 * @example
 * const sessions = new ConsoleSessions(checkAdminKey);
 * const who = sessions.authenticate(req); // throws 401/403, or returns how the caller authenticated
 */
export class ConsoleSessions {
  private readonly byId = new Map<string, Session>();
  /** Failed logins per client address in the current minute: a guesser gets 429 after LOGIN_FAILURES_PER_MINUTE. */
  private readonly failures = new Map<string, { count: number; until: number }>();

  constructor(private readonly checkAdminKey: ReturnType<typeof adminKeyChecker>) {}

  /** Checks the admin key and opens a session; sets the cookie and returns the CSRF token. */
  login(req: IncomingMessage, res: ServerResponse, key: unknown): { csrf: string; expires: string } {
    if (typeof key !== 'string' || !key)
      throw new GatewayError('invalid_request', 'key: expected the admin key as a string', 'key');
    const client = req.socket.remoteAddress ?? 'unknown';
    const now = Date.now();
    const failed = this.failures.get(client);
    if (failed && failed.until > now && failed.count >= LOGIN_FAILURES_PER_MINUTE)
      throw new GatewayError('rate_limited', 'too many failed logins from this address; try again in a minute');
    try {
      this.checkAdminKey({ authorization: `Bearer ${key}` });
    } catch (e) {
      const entry = failed && failed.until > now ? failed : { count: 0, until: now + 60_000 };
      entry.count++;
      this.failures.set(client, entry);
      throw e;
    }
    this.failures.delete(client);
    this.sweep();
    const id = token();
    const session = { csrf: token(), expires: Date.now() + MAX_AGE_S * 1000 };
    this.byId.set(digest(id), session);
    res.setHeader('set-cookie', this.cookie(req, id, MAX_AGE_S));
    return { csrf: session.csrf, expires: new Date(session.expires).toISOString() };
  }

  logout(req: IncomingMessage, res: ServerResponse): void {
    const id = cookieOf(req, COOKIE);
    if (id) this.byId.delete(digest(id));
    res.setHeader('set-cookie', this.cookie(req, '', 0));
  }

  /** The live session of this request's cookie, if any. */
  session(req: IncomingMessage): Session | undefined {
    const id = cookieOf(req, COOKIE);
    const s = id ? this.byId.get(digest(id)) : undefined;
    if (!s || s.expires < Date.now()) return undefined;
    return s;
  }

  /**
   * Who may call a console endpoint: an admin key in `Authorization` (scripts and curl; no CSRF, since no
   * browser sends it on its own), or a session cookie — with its CSRF token for anything but GET and HEAD, and
   * never from another origin. Throws the 401/403 to send.
   */
  authenticate(req: IncomingMessage): 'key' | 'session' {
    if (req.headers.authorization || req.headers['x-api-key']) {
      this.checkAdminKey(req.headers);
      return 'key';
    }
    const s = this.session(req);
    if (!s) throw new GatewayError('invalid_api_key', 'log in to the console, or send an admin key as a Bearer token');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      checkOrigin(req);
      const sent = req.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameText(sent, s.csrf))
        throw new GatewayError('forbidden', 'missing or wrong x-csrf-token for this session');
    }
    return 'session';
  }

  private cookie(req: IncomingMessage, value: string, maxAge: number): string {
    const secure = 'encrypted' in req.socket && req.socket.encrypted ? '; Secure' : '';
    return `${COOKIE}=${value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, s] of this.byId) if (s.expires < now) this.byId.delete(k);
    for (const [k, f] of this.failures) if (f.until < now) this.failures.delete(k);
  }
}

/** A state change from a page on another origin is refused, whatever it carries (defence beside CSRF tokens). */
export function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new GatewayError('forbidden', 'bad Origin header');
  }
  if (host !== req.headers.host) throw new GatewayError('forbidden', `requests from ${origin} are not accepted`);
}
