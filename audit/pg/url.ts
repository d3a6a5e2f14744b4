/**
 * Database URLs carry a password: these helpers keep it out of every log line, error message and anchor name.
 */

/**
 * The URL with its password replaced by `***` (user, host, port and database kept, for the operator).
 * @example scrubDatabaseUrl('postgres://gw:s3cret@db:5432/audit') // 'postgres://gw:***@db:5432/audit'
 */
export function scrubDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/**
 * Removes the URL's password (and the URL itself) from a message, for errors that quote what they were given.
 * @example scrubMessage('connect to postgres://gw:s3cret@db failed', url) // 'connect to postgres://gw:***@db/ failed'
 */
export function scrubMessage(message: string, url: string): string {
  let out = message.split(url).join(scrubDatabaseUrl(url));
  try {
    const password = decodeURIComponent(new URL(url).password);
    if (password) out = out.split(password).join('***');
  } catch {
    // an unparseable URL has no password to find
  }
  return out;
}

/** True for `postgres://` and `postgresql://` URLs: what `--database-url` and `--anchor` take. */
export const isDatabaseUrl = (v: string): boolean => /^postgres(?:ql)?:\/\//i.test(v);

/**
 * An Error whose message (and its cause's) no longer holds the URL's password.
 * @example throw scrubError(err, databaseUrl);
 */
export function scrubError(err: unknown, url: string): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const scrubbed = new Error(scrubMessage(e.message, url));
  const code = (e as { code?: string }).code;
  if (code) (scrubbed as Error & { code?: string }).code = code;
  return scrubbed;
}
