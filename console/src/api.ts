/**
 * The console's only way to the gateway: its own JSON admin endpoints under /console/api. The session lives in an
 * HttpOnly cookie the page cannot read; the CSRF token is held here, in memory only, and sent on every POST.
 */
let csrf = '';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: { message?: string; param?: string | null } } & Record<string, unknown>,
    message: string,
  ) {
    super(message);
  }
}

export function setCsrf(token: string): void {
  csrf = token;
}

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const post = body !== undefined;
  const res = await fetch(`/console/api/${path}`, {
    method: post ? 'POST' : 'GET',
    credentials: 'same-origin',
    headers: post ? { 'content-type': 'application/json', 'x-csrf-token': csrf } : {},
    body: post ? JSON.stringify(body) : undefined,
  });
  const data = (await res.json().catch(() => ({}))) as ApiError['body'];
  if (!res.ok) throw new ApiError(res.status, data, data.error?.message ?? `${res.status} ${res.statusText}`);
  return data as T;
}

/** A query string from the non-empty fields of a filter. */
export function queryString(fields: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
