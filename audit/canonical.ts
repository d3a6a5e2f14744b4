/**
 * Canonical JSON and hashing for the chain. Keys are sorted at every depth, there is no whitespace, and values
 * follow `JSON.stringify` (undefined object members are dropped, non-finite numbers become `null`). Parsing a
 * canonical line and serialising it again yields the same bytes, which is what lets a verifier recompute hashes.
 */
import { createHash } from 'node:crypto';

/** 64 zeros: the `prev_hash` of seq 1 and the `prev_checkpoint_hash` of the first checkpoint. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Serialises a JSON-like value with object keys sorted recursively.
 * @example canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }) // '{"a":[{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const out = JSON.stringify(value);
    return out === undefined ? 'null' : out;
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    members.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${members.join(',')}}`;
}

/** sha256 as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The chain hash of a stored record: sha256 over the canonical JSON of every field except `hash`.
 * @example recordHash({ seq: 1, prev_hash: GENESIS_HASH, kind: 'decision' })
 */
export function recordHash(record: object): string {
  const { hash: _omit, ...rest } = record as Record<string, unknown>;
  return sha256Hex(canonicalJson(rest));
}
