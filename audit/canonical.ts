/**
 * Canonical JSON and hashing for the chain. Keys are sorted at every depth, there is no whitespace, and values
 * follow `JSON.stringify` (undefined object members are dropped, non-finite numbers become `null`). Parsing a
 * canonical line and serialising it again yields the same bytes, which is what lets a verifier recompute hashes.
 */
import { hash as oneShotHash } from 'node:crypto';

/** 64 zeros: the `prev_hash` of seq 1 and the `prev_checkpoint_hash` of the first checkpoint. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Serialises a JSON-like value with object keys sorted recursively.
 * @example canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }) // '{"a":[{"c":3,"d":2}],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return 'null';
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = obj[key];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    out += `${first ? '' : ','}${quoteKey(key)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

const PLAIN_KEY = /^[\w$.\- ]*$/;
/** JSON-quotes an object key; the common case needs no escaping. */
const quoteKey = (key: string): string => (PLAIN_KEY.test(key) ? `"${key}"` : JSON.stringify(key));

/** Sorted `[key, canonical value]` pairs of an object, skipping members JSON would drop. */
function members(obj: Record<string, unknown>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    out.push([key, `${quoteKey(key)}:${canonicalJson(v)}`]);
  }
  return out;
}

const INTEGER_KEY = /^(?:0|[1-9]\d*)$/;

/** True for keys that JavaScript orders numerically ahead of all others, whatever the insertion order. */
export const isIntegerKey = (key: string): boolean => INTEGER_KEY.test(key);

/** An object's own keys in sorted order, and whether they were in that order already (no sort then). */
export function sortedKeys(obj: object): { keys: string[]; inOrder: boolean } {
  const keys = Object.keys(obj);
  let inOrder = true;
  for (let i = 1; i < keys.length && inOrder; i++) inOrder = keys[i - 1] < keys[i];
  if (!inOrder) keys.sort();
  return { keys, inOrder };
}

/** Sets a member of a new object; a parsed "__proto__" member is data, which plain assignment would not keep. */
export function setMember(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/**
 * Hashes a record with `extra` members added (the chain fields; they win over the record's own) and returns the
 * canonical line with `hash` in its sorted place, serialising once. Any `hash` member is ignored and replaced.
 * Equivalent to `canonicalJson({ ...record, ...extra, hash: recordHash({ ...record, ...extra }) })`; neither
 * argument is changed.
 *
 * With `nestedSorted` (every nested object already has its keys in sorted insertion order and none is
 * integer-like, as the masker produces), the work is done by the native `JSON.stringify`, which then emits
 * canonical JSON: this is the hot path of `append`.
 */
export function hashAndSerialise(
  record: Record<string, unknown>,
  nestedSorted = false,
  extra: Record<string, unknown> = {},
): { hash: string; line: string } {
  if (nestedSorted) {
    try {
      return fastHashAndSerialise(record, extra);
    } catch {
      // e.g. a BigInt somewhere: the slow path serialises it the way the verifier will.
    }
  }
  const parts = members({ ...record, ...extra }).filter(([k]) => k !== 'hash');
  const hash = sha256Hex(`{${parts.map((p) => p[1]).join(',')}}`);
  let at = parts.findIndex(([k]) => k > 'hash');
  if (at < 0) at = parts.length;
  const all = parts.map((p) => p[1]);
  all.splice(at, 0, `"hash":"${hash}"`);
  return { hash, line: `{${all.join(',')}}` };
}

function fastHashAndSerialise(
  record: Record<string, unknown>,
  extra: Record<string, unknown>,
): { hash: string; line: string } {
  // Both key lists sorted (the record's usually is already), then merged; an extra key wins over the record's.
  const { keys } = sortedKeys(record);
  const extraKeys = Object.keys(extra).sort();
  const lo: Record<string, unknown> = {};
  const hi: Record<string, unknown> = {};
  for (let i = 0, j = 0; i < keys.length || j < extraKeys.length;) {
    let key: string;
    let value: unknown;
    if (j < extraKeys.length && (i >= keys.length || extraKeys[j] <= keys[i])) {
      key = extraKeys[j++];
      value = extra[key];
      if (keys[i] === key) i++;
    } else {
      key = keys[i++];
      value = record[key];
    }
    if (key === 'hash') continue;
    if (key.charCodeAt(0) - 48 < 10 && isIntegerKey(key)) throw new Error('integer-like key'); // digits first: skip the regex
    setMember(key < 'hash' ? lo : hi, key, value);
  }
  const a = JSON.stringify(lo).slice(1, -1);
  const b = JSON.stringify(hi).slice(1, -1);
  const hash = sha256Hex(`{${a}${a && b ? ',' : ''}${b}}`);
  return { hash, line: `{${a}${a ? ',' : ''}"hash":"${hash}"${b ? ',' : ''}${b}}` };
}

/** sha256 as lowercase hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return oneShotHash('sha256', data, 'hex');
}

/**
 * The chain hash of a stored record: sha256 over the canonical JSON of every field except `hash`.
 * @example recordHash({ seq: 1, prev_hash: GENESIS_HASH, kind: 'decision' })
 */
export function recordHash(record: object): string {
  const { hash: _omit, ...rest } = record as Record<string, unknown>;
  return sha256Hex(canonicalJson(rest));
}
