/**
 * Masking by path, applied before a record is stored. Paths are a small, safe subset of JSONPath, walked by
 * hand (never evaluated): `$`, `.name`, `.*`, `[*]`, `[3]`, `['name']` and `["name"]`.
 *
 * Secrets are removed whatever the configuration says: members named like credentials (Authorization,
 * X-Api-Key, Cookie, api_key, …) and bearer tokens or `sk-…` keys inside any string.
 */

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
      const m = IDENT.exec(path.slice(i));
      if (!m) fail('expected a member name after "."');
      steps.push({ kind: 'key', name: m![0] });
      i += m![0].length;
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

const SECRET_KEY = /^(?:(?:proxy-)?authorization|x-api-key|api[-_]?key|(?:set-)?cookie|(?:client[-_])?secret|password|access[-_]?token|refresh[-_]?token)$/i;
const SECRET_TEXT = /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}|\bsk-[A-Za-z0-9_-]{16,}/g;

/** Removes credentials anywhere in the tree, in place; returns the concrete paths it touched. */
export function scrubSecrets(root: unknown): string[] {
  const hits: string[] = [];
  const walk = (node: unknown, at: Array<string | number>): void => {
    if (!isContainer(node)) return;
    const keys: Array<string | number> = Array.isArray(node) ? node.map((_, k) => k) : Object.keys(node);
    for (const key of keys) {
      const holder = node as Record<string | number, unknown>;
      const value = holder[key];
      if (typeof key === 'string' && SECRET_KEY.test(key) && value !== undefined && value !== null) {
        holder[key] = MASK;
        hits.push(formatPath([...at, key]));
      } else if (typeof value === 'string') {
        const cleaned = value.replace(SECRET_TEXT, MASK);
        if (cleaned !== value) {
          holder[key] = cleaned;
          hits.push(formatPath([...at, key]));
        }
      } else walk(value, [...at, key]);
    }
  };
  walk(root, []);
  return hits;
}

/**
 * Compiles mask paths once; the returned function masks a deep copy and reports what it replaced.
 * @example
 * const mask = createMasker(['$.content.prompt']);
 * const { value, maskedPaths } = mask(record); // maskedPaths: ['$.content.prompt']
 */
export function createMasker(paths: readonly string[]): <T>(record: T) => { value: T; maskedPaths: string[] } {
  const compiled = paths.map(parseMaskPath);
  return function mask<T>(record: T) {
    const value = structuredClone(record);
    const masked = new Set<string>();
    for (const steps of compiled) for (const p of applyMask(value, steps)) masked.add(p);
    for (const p of scrubSecrets(value)) masked.add(p);
    return { value, maskedPaths: [...masked] };
  };
}
