import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { classifierType, classifierTypeNames } from '../classifiers/registry.js';
import type { Classifier } from '../classifiers/types.js';
import { revisionOf } from './canonical.js';
import { PolicySchema, type Policy } from './schema.js';

/** The policy pack that ships with the gateway. */
export const DEFAULT_POLICY_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'policies', 'default');

/** One problem in a policy: the JSON path of the fault and the reason. */
export interface PolicyIssue {
  path: string;
  message: string;
}

export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    readonly source: string,
    readonly issues: PolicyIssue[],
  ) {
    super(`invalid policy ${source}:\n  ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('\n  ')}`);
  }
}

/** A validated policy with its revision and its classifiers, ready for the engine. */
export interface LoadedPolicy {
  policy: Policy;
  revision: string;
  source: string;
  classifiers: Map<string, Classifier>;
}

/** Formats a zod path as `rules[3].when.threshold`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

const zodIssues = (error: z.ZodError, prefix: readonly PropertyKey[] = []): PolicyIssue[] =>
  error.issues.map((i) => ({ path: formatPath([...prefix, ...i.path]), message: i.message }));

/** Resolves a policy path: a file, or a folder holding `policy.json`. */
export function policyFile(path: string): string {
  const abs = resolve(path);
  return statSync(abs, { throwIfNoEntry: false })?.isDirectory() ? join(abs, 'policy.json') : abs;
}

/**
 * Validates a parsed policy document: the schema, then the semantics (unique ids, classifier types and their
 * parameters, rule references, regexes). Throws a PolicyError listing every fault with its path.
 */
export function compilePolicy(doc: unknown, source = '(inline)'): LoadedPolicy {
  const parsed = PolicySchema.safeParse(doc);
  if (!parsed.success) throw new PolicyError(source, zodIssues(parsed.error));
  const policy = parsed.data;
  const issues: PolicyIssue[] = [];
  const classifiers = new Map<string, Classifier>();

  policy.classifiers.forEach((decl, i) => {
    if (classifiers.has(decl.id)) issues.push({ path: `classifiers[${i}].id`, message: `duplicate classifier id "${decl.id}"` });
    const type = classifierType(decl.type);
    if (!type) {
      issues.push({ path: `classifiers[${i}].type`, message: `unknown classifier type "${decl.type}"; known: ${classifierTypeNames().join(', ')}` });
      return;
    }
    const params = type.params.safeParse(decl.params);
    if (!params.success) {
      issues.push(...zodIssues(params.error, ['classifiers', i, 'params']));
      return;
    }
    try {
      classifiers.set(decl.id, type.create({ id: decl.id, timeoutMs: decl.timeoutMs, params: params.data }));
    } catch (e) {
      issues.push({ path: `classifiers[${i}]`, message: (e as Error).message });
    }
  });

  const ruleIds = new Set<string>();
  policy.rules.forEach((rule, i) => {
    if (ruleIds.has(rule.id)) issues.push({ path: `rules[${i}].id`, message: `duplicate rule id "${rule.id}"` });
    ruleIds.add(rule.id);
    const c = classifiers.get(rule.when.classifier);
    if (!policy.classifiers.some((d) => d.id === rule.when.classifier)) {
      issues.push({ path: `rules[${i}].when.classifier`, message: `no classifier "${rule.when.classifier}" is declared` });
    } else if (c && !c.labels.includes(rule.when.label)) {
      issues.push({ path: `rules[${i}].when.label`, message: `classifier "${c.id}" has no label "${rule.when.label}"; it has: ${c.labels.join(', ')}` });
    }
  });

  if (issues.length) throw new PolicyError(source, issues);
  return { policy, revision: revisionOf(doc), source, classifiers };
}

/** Reads, parses and compiles a policy file or folder. */
export function loadPolicy(path: string = DEFAULT_POLICY_PATH): LoadedPolicy {
  const file = policyFile(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PolicyError(file, [{ path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PolicyError(file, [{ path: '', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return compilePolicy(doc, file);
}
