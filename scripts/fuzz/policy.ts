import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { compilePolicy, DEFAULT_POLICY_PATH, PolicyError, policyFile } from '../../policies/load.js';
import { Rand } from './random.js';
import type { Problem } from './run.js';

type Json = unknown;
type Path = (string | number)[];

export interface PolicyFuzzReport {
  compiled: number;
  /** Mutants that compiled anyway (harmless mutations), and mutants refused with a PolicyError. */
  accepted: number;
  refused: number;
  problems: Problem[];
  slowestMs: number;
}

/** Every path in a document, containers included. */
function paths(doc: Json, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (doc && typeof doc === 'object')
    for (const [k, v] of Object.entries(doc)) paths(v, [...at, Array.isArray(doc) ? Number(k) : k], out);
  return out;
}

function parentOf(doc: Json, path: Path): { parent: Record<string | number, Json>; key: string | number } | undefined {
  if (!path.length) return undefined;
  let cur = doc as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, Json>;
  return { parent: cur, key: path[path.length - 1] };
}

const REGEXES = [
  '(',
  '[a-',
  '(a+)+$',
  '(?<=x',
  '\\',
  '.*'.repeat(5),
  'a'.repeat(2500),
  '(?<n>a)\\k<m>',
  '[\\u{110000}]',
  '(a|a)*',
  'x{99999999999}',
];
const SELECTS = ['$', '$..', '$.messages[', '$[?(@.x)]', '$..content', "$['a'", '$.messages[-1:].content', '@', ''];

/** One random edit of a policy document, in place. */
function mutate(doc: Record<string, Json>, r: Rand): Record<string, Json> {
  const all = paths(doc);
  const path = r.pick(all.slice(1));
  const at = parentOf(doc, path);
  if (!at) return doc;
  switch (r.int(0, 9)) {
    case 0:
      if (Array.isArray(at.parent)) at.parent.splice(Number(at.key), 1);
      else delete at.parent[at.key];
      break;
    case 1:
      at.parent[at.key] = r.json(2);
      break;
    case 2:
      if (Array.isArray(at.parent)) at.parent.push(structuredClone(at.parent[at.key]));
      else at.parent[at.key] = structuredClone(at.parent[at.key]);
      break;
    case 3:
      at.parent[at.key] = r.text(20);
      break;
    case 4: {
      const c = (doc.classifiers as Record<string, Json>[] | undefined)?.find(
        (x) => (x?.params as { patterns?: unknown[] })?.patterns?.length,
      );
      const p = (c?.params as { patterns: Record<string, Json>[] } | undefined)?.patterns;
      if (p) r.pick(p).regex = r.pick(REGEXES);
      break;
    }
    case 5: {
      const rules = doc.rules as Record<string, Json>[] | undefined;
      if (Array.isArray(rules) && rules.length) r.pick(rules).select = r.pick(SELECTS);
      break;
    }
    case 6:
      doc[r.pick(['extends', '__proto__', 'constructor', 'unknown', 'mode', 'apiVersion'])] = r.pick([
        '../x.json',
        'enforce',
        'shadow',
        {},
        null,
        'gateway/v2',
      ]);
      break;
    case 7: {
      let deep: Json = 1;
      for (let i = 0; i < r.pick([10, 700, 5000]); i++) deep = r.chance(0.5) ? [deep] : { all: [deep] };
      at.parent[at.key] = deep;
      break;
    }
    case 8:
      if (typeof at.parent[at.key] === 'number') at.parent[at.key] = r.pick([NaN, -1, 1e300, 0.5, -0]);
      else at.parent[at.key] = r.pick([0, '', [], {}]);
      break;
    default:
      if (typeof at.parent[at.key] === 'string') at.parent[at.key] = (at.parent[at.key] as string) + r.text(5);
  }
  return doc;
}

/**
 * Compiles `count` random mutants of the default policy. Each must compile or throw a PolicyError with at least
 * one issue — never any other error (a TypeError, a RangeError from deep recursion, a SyntaxError from a regex).
 *
 * @example
 * const report = fuzzPolicies({ seed: 1, count: 500 });
 * report.problems // [] when the loader held
 */
export function fuzzPolicies({ seed, count }: { seed: number; count: number }): PolicyFuzzReport {
  const base = JSON.parse(readFileSync(policyFile(join(DEFAULT_POLICY_PATH, '..', 'rules-only')), 'utf8')) as Record<
    string,
    Json
  >;
  const report: PolicyFuzzReport = { compiled: 0, accepted: 0, refused: 0, problems: [], slowestMs: 0 };
  for (let i = 0; i < count; i++) {
    const r = Rand.for(seed ^ 0x901, i);
    let doc = structuredClone(base);
    for (let k = r.int(1, 4); k > 0; k--) {
      try {
        doc = mutate(doc, r);
      } catch {
        /* an edit that does not apply to this mutant (it was already mangled); the next one might */
      }
    }
    const started = performance.now();
    try {
      compilePolicy(doc, `mutant ${i}`);
      report.accepted++;
    } catch (e) {
      if (e instanceof PolicyError && e.issues.length > 0) report.refused++;
      else
        report.problems.push({
          case: i,
          kind: 'policy loader',
          problem: `threw ${(e as Error)?.name}: ${(e as Error)?.message?.slice(0, 200)}`,
        });
    }
    report.compiled++;
    report.slowestMs = Math.max(report.slowestMs, performance.now() - started);
  }
  report.slowestMs = Math.round(report.slowestMs);
  return report;
}
