import { JSONPath } from 'jsonpath-plus';

/**
 * JSONPath written by policy authors, with no way to run code.
 *
 * jsonpath-plus (pinned at 10.3.0) walks the document, but every filter expression `[?(…)]` is evaluated by
 * our own interpreter of a small grammar: `@` paths (`@.role`, `@['a b']`, `@[0]`), string, number, boolean
 * and null literals, comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`), `&&`, `||`, `!` and parentheses.
 * Nothing is ever handed to `eval`, `Function` or `vm`. Dynamic expressions `[(…)]`, the `@root`, `@parent`,
 * `@path` and `@property` variables, and the property names `__proto__`, `constructor` and `prototype` are
 * rejected when the policy loads, and the interpreter reads own properties only, so prototype chains are
 * never reached even if a path slipped past validation.
 */

export class SelectorError extends Error {
  override name = 'SelectorError';
}

type Node =
  | { t: 'lit'; v: string | number | boolean | null }
  | { t: 'path'; steps: (string | number)[] }
  | { t: 'not'; e: Node }
  | { t: 'and' | 'or'; l: Node; r: Node }
  | { t: 'cmp'; op: string; l: Node; r: Node };

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_EXPR = 500;
const MAX_DEPTH = 32;
const TOKEN =
  /\s*(?:(@|_\$_v)|(===|!==|==|!=|<=|>=|&&|\|\||[<>!()[\].])|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*))/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < src.length) {
    if (/^\s*$/.test(src.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(src);
    if (!m) {
      const unexpected = src.slice(at).trimStart()[0];
      throw new SelectorError(`unexpected character ${JSON.stringify(unexpected)} in filter`);
    }
    out.push(m[1] ? '@' : m[0].trim());
    at = TOKEN.lastIndex;
  }
  return out;
}

const unquote = (s: string): string => {
  const body = s.slice(1, -1);
  if (/\\(?!['"\\])/.test(body))
    throw new SelectorError('only \\\' \\" and \\\\ escapes are allowed in filter strings');
  return body.replace(/\\(['"\\])/g, '$1');
};

/** Parses a filter expression into a tree; throws SelectorError for anything outside the grammar. */
export function parseFilter(src: string): Node {
  if (src.length > MAX_EXPR) throw new SelectorError(`filter longer than ${MAX_EXPR} characters`);
  const toks = tokenize(src);
  let i = 0;
  let depth = 0;
  const peek = () => toks[i];
  const eat = (t: string) => {
    if (toks[i] !== t)
      throw new SelectorError(
        `expected "${t}" but found ${toks[i] === undefined ? 'the end' : `"${toks[i]}"`} in filter`,
      );
    i++;
  };
  const operand = (): Node => {
    const tok = toks[i++];
    if (tok === undefined) throw new SelectorError('filter ends too early');
    if (tok === '(') {
      if (++depth > MAX_DEPTH) throw new SelectorError('filter nests too deeply');
      const e = or();
      eat(')');
      depth--;
      return e;
    }
    if (tok === '@') {
      const steps: (string | number)[] = [];
      while (peek() === '.' || peek() === '[') {
        if (toks[i++] === '.') {
          const name = toks[i++];
          if (!name || !/^[A-Za-z_]\w*$/.test(name))
            throw new SelectorError(`expected a property name after "." in filter`);
          steps.push(name);
        } else {
          const key = toks[i++];
          if (key && /^['"]/.test(key)) steps.push(unquote(key));
          else if (key && /^\d+$/.test(key)) steps.push(Number(key));
          else throw new SelectorError('expected a quoted name or an index inside [] in filter');
          eat(']');
        }
      }
      for (const s of steps)
        if (typeof s === 'string' && FORBIDDEN.has(s))
          throw new SelectorError(`property "${s}" is not allowed in filters`);
      return { t: 'path', steps };
    }
    if (/^['"]/.test(tok)) return { t: 'lit', v: unquote(tok) };
    if (/^-?\d/.test(tok)) return { t: 'lit', v: Number(tok) };
    if (tok === 'true' || tok === 'false') return { t: 'lit', v: tok === 'true' };
    if (tok === 'null') return { t: 'lit', v: null };
    throw new SelectorError(
      `"${tok}" is not allowed in filters (only @ paths, literals, comparisons, && || ! and parentheses)`,
    );
  };
  const cmp = (): Node => {
    const l = operand();
    const op = peek();
    if (op && ['==', '===', '!=', '!==', '<', '<=', '>', '>='].includes(op)) {
      i++;
      return { t: 'cmp', op: op.replace(/^(==|!=)=$/, '$1'), l, r: operand() };
    }
    return l;
  };
  const unary = (): Node => {
    if (peek() === '!') {
      i++;
      if (++depth > MAX_DEPTH) throw new SelectorError('filter nests too deeply');
      const e = unary();
      depth--;
      return { t: 'not', e };
    }
    return cmp();
  };
  const and = (): Node => {
    let l = unary();
    while (peek() === '&&') {
      i++;
      l = { t: 'and', l, r: unary() };
    }
    return l;
  };
  const or = (): Node => {
    let l = and();
    while (peek() === '||') {
      i++;
      l = { t: 'or', l, r: and() };
    }
    return l;
  };
  const tree = or();
  if (i < toks.length) throw new SelectorError(`unexpected "${toks[i]}" in filter`);
  return tree;
}

/** Evaluates a parsed filter against one value, reading own properties only. */
export function evalFilter(node: Node, v: unknown): unknown {
  switch (node.t) {
    case 'lit':
      return node.v;
    case 'path': {
      let cur: unknown = v;
      for (const s of node.steps) {
        if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, s)) return undefined;
        cur = (cur as Record<string | number, unknown>)[s];
      }
      return cur;
    }
    case 'not':
      return !evalFilter(node.e, v);
    case 'and':
      return Boolean(evalFilter(node.l, v)) && Boolean(evalFilter(node.r, v));
    case 'or':
      return Boolean(evalFilter(node.l, v)) || Boolean(evalFilter(node.r, v));
    case 'cmp': {
      const l = evalFilter(node.l, v);
      const r = evalFilter(node.r, v);
      if (node.op === '==') return l === r;
      if (node.op === '!=') return l !== r;
      if (!((typeof l === 'number' && typeof r === 'number') || (typeof l === 'string' && typeof r === 'string')))
        return false;
      return node.op === '<' ? l < r : node.op === '<=' ? l <= r : node.op === '>' ? l > r : l >= r;
    }
  }
}

const parsed = new Map<string, Node>();

/** The only evaluator jsonpath-plus ever gets: our interpreter, over the current value. */
function safeEval(code: string, context: object): unknown {
  let tree = parsed.get(code);
  if (!tree) {
    tree = parseFilter(code);
    if (parsed.size < 10_000) parsed.set(code, tree);
  }
  return evalFilter(tree, (context as { _$_v?: unknown })._$_v);
}

export interface Selected {
  /** RFC 6901 pointer to the value, e.g. `/messages/2/content`. */
  pointer: string;
  value: unknown;
}

export interface Selector {
  path: string;
  select(doc: unknown): Selected[];
}

/**
 * Validates a JSONPath and returns a selector for it. Throws SelectorError with the reason when the path
 * uses anything outside the allowed grammar.
 *
 * @example
 * compileSelector("$.messages[?(@.role=='user')].content").select(request);
 * // [{ pointer: '/messages/1/content', value: '…' }]
 */
export function compileSelector(path: string): Selector {
  if (typeof path !== 'string' || !path.startsWith('$')) throw new SelectorError('a JSONPath starts with "$"');
  if (path.length > 1000) throw new SelectorError('JSONPath longer than 1000 characters');
  if (/@(?:root|parent|parentProperty|property|path)\b/.test(path))
    throw new SelectorError('@root, @parent, @property and @path are not allowed');
  if (/`/.test(path)) throw new SelectorError('backtick escapes are not allowed');
  let segments: string[];
  try {
    segments = JSONPath.toPathArray(path) as string[];
  } catch (e) {
    throw new SelectorError(`not a JSONPath: ${(e as Error).message}`);
  }
  for (const seg of segments) {
    if (typeof seg !== 'string') continue;
    if (FORBIDDEN.has(seg)) throw new SelectorError(`property "${seg}" is not allowed`);
    if (seg.startsWith('(')) throw new SelectorError('script expressions [(…)] are not allowed');
    if (seg.startsWith('?')) {
      const body = /^\?\(([\s\S]*)\)$/.exec(seg)?.[1];
      if (body === undefined) throw new SelectorError(`malformed filter "${seg}"`);
      parseFilter(body);
    }
  }
  return {
    path,
    select(doc) {
      const out = JSONPath({ path, json: doc as object, resultType: 'all', eval: safeEval, wrap: true }) as {
        pointer: string;
        value: unknown;
      }[];
      return out.map((r) => ({ pointer: r.pointer, value: r.value }));
    },
  };
}
