/**
 * Masking by path, applied before a record is stored. Paths are a small, safe subset of JSONPath, walked by
 * hand (never evaluated): `$`, `.name`, `.*`, `[*]`, `[3]`, `['name']` and `["name"]`.
 *
 * Secrets are removed whatever the configuration says: members named like credentials (Authorization,
 * X-Api-Key, Cookie, api_key, …) and bearer tokens or `sk-…` keys inside any string.
 */

import { isIntegerKey, setMember, sortedKeys } from './canonical.js';

export type PathStep = { kind: 'key'; name: string } | { kind: 'index'; index: number } | { kind: 'wildcard' };

/** What a masked value is replaced with. */
export const MASK = '[masked]';

const IDENT = /^[A-Za-z_$][\w$-]*/;

/**
 * Parses a mask path; throws on anything outside the supported subset, so a bad config fails at startup.
 * @example parseMaskPath('$.stages.input.classifiers[*].details')
 */
export function parseMaskPath(path: string): PathStep[] {
  if (!path.startsWith('$')) throw new Error(`mask path must start with "$": ${JSON.stringify(path)}`);
  const steps: PathStep[] = [];
  let i = 1;
  const fail = (why: string): never => {
    throw new Error(`invalid mask path ${JSON.stringify(path)} at ${i}: ${why}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      i++;
      if (path[i] === '*') {
        steps.push({ kind: 'wildcard' });
        i++;
        continue;
      }
      const name = IDENT.exec(path.slice(i))?.[0] ?? fail('expected a member name after "."');
      steps.push({ kind: 'key', name });
      i += name.length;
    } else if (c === '[') {
      const close = findClose(path, i);
      if (close < 0) fail('unclosed "["');
      const inner = path.slice(i + 1, close).trim();
      if (inner === '*') steps.push({ kind: 'wildcard' });
      else if (/^\d+$/.test(inner)) steps.push({ kind: 'index', index: Number(inner) });
      else if (/^'(?:[^'\\]|\\.)*'$/.test(inner) || /^"(?:[^"\\]|\\.)*"$/.test(inner)) {
        steps.push({ kind: 'key', name: inner.slice(1, -1).replace(/\\(.)/g, '$1') });
      } else fail(`unsupported selector [${inner}]`);
      i = close + 1;
    } else {
      fail(`unexpected ${JSON.stringify(c)}`);
    }
  }
  if (steps.length === 0) throw new Error('mask path "$" would mask the whole record');
  return steps;
}

function findClose(path: string, open: number): number {
  let quote: string | null = null;
  for (let j = open + 1; j < path.length; j++) {
    const c = path[j];
    if (quote) {
      if (c === '\\') j++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === ']') return j;
  }
  return -1;
}

/** Renders a concrete location as a path string, e.g. `$.stages.input.classifiers[0].details`. */
export function formatPath(steps: ReadonlyArray<string | number>): string {
  let out = '$';
  for (const s of steps) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(s)) out += `.${s}`;
    else out += `['${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return out;
}

type Json = Record<string, unknown> | unknown[];
const isContainer = (v: unknown): v is Json => typeof v === 'object' && v !== null;

/** Replaces every value the path selects with `MASK` in place and returns the concrete paths it replaced. */
export function applyMask(root: unknown, steps: readonly PathStep[]): string[] {
  const hits: string[] = [];
  const walk = (node: unknown, depth: number, at: Array<string | number>): void => {
    if (!isContainer(node)) return;
    const step = steps[depth];
    const last = depth === steps.length - 1;
    const visit = (key: string | number): void => {
      const child = (node as Record<string | number, unknown>)[key];
      if (child === undefined) return;
      if (last) {
        (node as Record<string | number, unknown>)[key] = MASK;
        hits.push(formatPath([...at, key]));
      } else walk(child, depth + 1, [...at, key]);
    };
    if (step.kind === 'wildcard') {
      if (Array.isArray(node)) node.forEach((_, k) => visit(k));
      else Object.keys(node).forEach(visit);
    } else if (step.kind === 'index') {
      if (Array.isArray(node) && step.index < node.length) visit(step.index);
    } else if (!Array.isArray(node) && Object.prototype.hasOwnProperty.call(node, step.name)) {
      visit(step.name);
    }
  };
  walk(root, 0, []);
  return hits;
}

const SECRET_KEY =
  /^(?:(?:proxy-)?authorization|x-api-key|api[-_]?key|(?:set-)?cookie|(?:client[-_])?secret|password|(?:x-)?(?:access|refresh|auth|api|session)[-_]?token)$/i;
const SECRET_TEXT = /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}|\bsk-[A-Za-z0-9_-]{16,}/g;

const mightHoldSecret = (s: string): boolean => s.includes('Bearer') || s.includes('sk-');

/**
 * A copy of JSON data with every credential removed: members named like credentials, bearer tokens and `sk-`
 * keys inside strings (the patterns records are masked with), and each of `literals` (a configured key of any
 * shape) wherever it appears, all replaced by `MASK`. For what crosses to someone who must not hold them, such
 * as an upstream's error body passed to a client. Keys keep their order; nothing is sorted.
 * @example
 * scrubCredentials({ error: { message: 'Incorrect API key provided: my-key-123' } }, ['my-key-123'])
 * // { error: { message: 'Incorrect API key provided: [masked]' } }
 */
export function scrubCredentials<T>(value: T, literals: readonly string[] = []): T {
  const keys = literals.filter((k) => k.length >= 4);
  const text = (s: string): string => {
    for (const k of keys) if (s.includes(k)) s = s.replaceAll(k, MASK);
    return mightHoldSecret(s) ? s.replace(SECRET_TEXT, MASK) : s;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return text(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) setMember(out, text(k), SECRET_KEY.test(k) && x != null ? MASK : walk(x));
    return out;
  };
  return walk(value) as T;
}

const SECRET = 1;
const INTEGER = 2;
const keyKinds = new Map<string, number>();

/** SECRET and INTEGER bits of a member name, memoised: records repeat the same few dozen keys. */
function classifyKey(key: string): number {
  let kind = keyKinds.get(key);
  if (kind === undefined) {
    kind = (SECRET_KEY.test(key) ? SECRET : 0) | (isIntegerKey(key) ? INTEGER : 0);
    if (keyKinds.size < 10_000) keyKinds.set(key, kind); // bounded: keys inside details can be arbitrary
  }
  return kind;
}

interface Scrub {
  hits: string[];
  at: Array<string | number>;
  /** Cleared when an object has an integer-like key (JavaScript puts those first whatever the insertion order). */
  sorted: boolean;
  /** Return unchanged parts as they are (copy-on-write) rather than copying everything. */
  share: boolean;
}

/**
 * Removes credentials from JSON data and gives every object its keys in sorted order, in one pass: members
 * named like credentials become `MASK`, and bearer tokens or `sk-` keys inside strings are replaced; concrete
 * paths touched go to `s.hits`. With `s.share`, an object or array that needs no change (keys already sorted,
 * nothing to remove) is returned as it is, so records built in canonical order cost a walk, not a copy.
 */
function scrub(node: unknown, s: Scrub): unknown {
  if (typeof node === 'string') {
    if (!mightHoldSecret(node)) return node;
    const cleaned = node.replace(SECRET_TEXT, MASK);
    if (cleaned !== node) s.hits.push(formatPath(s.at));
    return cleaned;
  }
  if (node === null || typeof node !== 'object') return node;
  const json = (node as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return scrub(json.call(node), s);
  if (Array.isArray(node)) {
    let out: unknown[] | undefined = s.share ? undefined : new Array<unknown>(node.length);
    for (let i = 0; i < node.length; i++) {
      s.at.push(i);
      const v = scrub(node[i], s);
      s.at.pop();
      if (out) out[i] = v;
      else if (v !== node[i]) (out = node.slice(0, i))[i] = v;
    }
    return out ?? node;
  }
  const src = node as Record<string, unknown>;
  const { keys, inOrder } = sortedKeys(src);
  let out: Record<string, unknown> | undefined = s.share && inOrder ? undefined : {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const kind = classifyKey(key);
    if (kind & INTEGER) s.sorted = false;
    const value = src[key];
    let v: unknown;
    if (kind & SECRET && value !== undefined && value !== null) {
      v = MASK;
      s.hits.push(formatPath([...s.at, key]));
    } else {
      s.at.push(key);
      v = scrub(value, s);
      s.at.pop();
    }
    if (!out) {
      if (v === value) continue;
      out = {};
      for (let j = 0; j < i; j++) setMember(out, keys[j], src[keys[j]]);
    }
    setMember(out, key, v);
  }
  return out ?? node;
}

/**
 * True when `scrub` would return `node` unchanged and in canonical order: plain objects with their own keys in
 * sorted insertion order, no integer-like or credential-like member names, no credential-like strings, no
 * `toJSON`. A read-only walk without allocation — the common case for records the gateway builds — so the
 * masker can skip `scrub` entirely.
 */
function pristine(node: unknown): boolean {
  if (typeof node === 'string') return !mightHoldSecret(node);
  if (node === null || typeof node !== 'object') return true;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) if (!pristine(node[i])) return false;
    return true;
  }
  if (Object.getPrototypeOf(node) !== Object.prototype) return false;
  let prev: string | undefined;
  for (const key in node) {
    if ((prev !== undefined && !(prev < key)) || classifyKey(key) !== 0) return false;
    if (!pristine((node as Record<string, unknown>)[key])) return false;
    prev = key;
  }
  return true;
}

/**
 * Compiles mask paths once; the returned function masks a copy and reports what it replaced. Without mask
 * paths, parts that need no change (the whole record, possibly) are shared with the input rather than copied:
 * treat the result as read-only, and serialise it before the input can change.
 * @example
 * const mask = createMasker(['$.content.prompt']);
 * const { value, maskedPaths } = mask(record); // maskedPaths: ['$.content.prompt']
 */
export function createMasker(paths: readonly string[]): <T>(record: T) => Masked<T> {
  const compiled = paths.map(parseMaskPath);
  const share = compiled.length === 0;
  return function mask<T>(record: T) {
    if (share && pristine(record)) return { value: record, maskedPaths: [], sorted: true };
    const s: Scrub = { hits: [], at: [], sorted: true, share };
    const value = scrub(record, s) as T;
    for (const steps of compiled) s.hits.push(...applyMask(value, steps));
    return { value, maskedPaths: s.hits.length ? [...new Set(s.hits)] : s.hits, sorted: s.sorted };
  };
}

export interface Masked<T> {
  value: T;
  maskedPaths: string[];
  /** Every object in `value` has its keys in sorted insertion order and none is integer-like. */
  sorted: boolean;
}
