import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal documents serialise to equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v,
  );
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A policy's revision: the sha256 of its canonical JSON. */
export const revisionOf = (doc: unknown) => sha256(canonicalJson(doc));
