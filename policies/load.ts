import { readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { classifierType, classifierTypeNames } from '../classifiers/registry.js';
import { escalating, shared } from '../classifiers/judge/escalate.js';
import type { Classifier, Stage } from '../classifiers/types.js';
import { revisionOf } from './canonical.js';
import { compileCondition, type CompiledCondition } from './conditions.js';
import { jsonErrorText, parseJsonText } from './json-text.js';
import { extend, locate, originsOf } from './extend.js';
import { depthPast } from './depth.js';
import { PolicySchema, type Policy, type Rule } from './schema.js';
import { refusalsOf } from './conversation.js';
import { checkCategoryLevels, resolveRuleLevels } from './levels.js';
import { textSelector, type TextSelector } from './select.js';
import { allowListRules } from './tool-allow.js';
import { toolScopeOf, type CompiledToolScope } from './tool-scope.js';

/** The policy pack that ships with the gateway. */
export const DEFAULT_POLICY_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'policies', 'default');

/**
 * One problem in a policy: the JSON path of the fault and the reason. `file` is set when the fault lies in another
 * file than the one loaded (a policy it extends); `path` is then a path in that file.
 */
export interface PolicyIssue {
  path: string;
  message: string;
  file?: string;
}

/** An issue as one line: `path: reason`, or `file: path: reason` for a fault in an extended file. */
export const issueText = (i: PolicyIssue): string =>
  `${i.file ? `${i.file}: ` : ''}${i.path || '(root)'}: ${i.message}`;

export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    readonly source: string,
    readonly issues: PolicyIssue[],
  ) {
    super(`invalid policy ${source}:\n  ${issues.map(issueText).join('\n  ')}`);
  }
}

/** The policy file itself could not be read (missing, unreadable): an I/O error, not a fault in a policy. */
export class PolicyReadError extends PolicyError {
  override name = 'PolicyReadError';
  constructor(
    source: string,
    issues: PolicyIssue[],
    /** The system's code (ENOENT, EACCES…), which command lines read as an I/O error. */
    readonly code?: string,
  ) {
    super(source, issues);
  }
}

/** A rule ready to run: its selector and its compiled condition. */
export interface CompiledRule {
  rule: Rule;
  /** Position in the policy; the last tie-breaker. */
  order: number;
  stages: Stage[];
  /** The text the rule reads at each of its stages. */
  selectors: Partial<Record<Stage, TextSelector>>;
  condition: CompiledCondition;
  /** For a rule with a `tool` scope: which calls it reads (see tool-rules.ts). */
  tool?: CompiledToolScope;
}

/** A validated policy with its revision, classifiers and compiled rules, ready for the engine. */
export interface LoadedPolicy {
  policy: Policy;
  revision: string;
  source: string;
  classifiers: Map<string, Classifier>;
  rules: CompiledRule[];
}

/** Formats a zod path as `rules[3].when.threshold`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/**
 * zod issues as policy issues; an unknown field is reported at its own path. When no branch of a union matched (a
 * condition that is no kind of condition), the branch with the fewest faults, if one has fewer than every other,
 * is the one the author meant: its faults are reported instead of "Invalid input".
 */
const zodIssues = (
  error: { issues: readonly z.core.$ZodIssue[] },
  prefix: readonly PropertyKey[] = [],
): PolicyIssue[] =>
  error.issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => ({ path: formatPath([...prefix, ...i.path, k]), message: `unknown field "${k}"` }));
    if (i.code === 'invalid_union' && i.errors.length > 1) {
      const sizes = i.errors.map((e) => e.length);
      const least = Math.min(...sizes);
      const branch = i.errors[sizes.indexOf(least)];
      if (branch && least > 0 && sizes.filter((n) => n === least).length === 1)
        return zodIssues({ issues: branch }, [...prefix, ...i.path]);
    }
    return [{ path: formatPath([...prefix, ...i.path]), message: i.message }];
  });

/**
 * How many objects and arrays deep a policy may nest: far past any readable `when` tree, short of overflowing the
 * validator.
 */
export const MAX_DEPTH = 600;

/** Resolves a policy path: a file, or a folder holding `policy.json`. */
export function policyFile(path: string): string {
  const abs = resolve(path);
  return statSync(abs, { throwIfNoEntry: false })?.isDirectory() ? join(abs, 'policy.json') : abs;
}

/**
 * Wraps each classifier that declares `escalate` so that it is asked only where its source is unsure, and shares
 * each source's work between the rules and the judges (classifiers/judge/escalate.ts).
 */
function escalations(policy: Policy, classifiers: Map<string, Classifier>, issues: PolicyIssue[]): void {
  const sources = new Map<string, Classifier>();
  policy.classifiers.forEach((decl, i) => {
    const e = decl.escalate;
    const judge = classifiers.get(decl.id);
    if (!e || !judge) return;
    const at = `classifiers[${i}].escalate`;
    const source = classifiers.get(e.classifier);
    const fail = (path: string, message: string) => void issues.push({ path: `${at}.${path}`, message });
    if (e.classifier === decl.id) return fail('classifier', 'a classifier cannot escalate from itself');
    if (!policy.classifiers.some((c) => c.id === e.classifier))
      return fail('classifier', `no classifier "${e.classifier}" is declared`);
    if (policy.classifiers.find((c) => c.id === e.classifier)?.escalate)
      return fail('classifier', `"${e.classifier}" escalates itself; escalate from a local classifier`);
    if (!source) return;
    if (!source.labels.includes(e.label))
      return fail(
        'label',
        `classifier "${e.classifier}" has no label "${e.label}" (it has: ${source.labels.join(', ')})`,
      );
    if (!judge.labels.includes(e.label))
      return fail(
        'label',
        `"${decl.id}" has no label "${e.label}": outside the band it reads "${e.classifier}"'s scores for the labels both have (it has: ${judge.labels.join(', ')})`,
      );
    let sharedSource = sources.get(e.classifier);
    if (!sharedSource) sources.set(e.classifier, (sharedSource = shared(source)));
    classifiers.set(decl.id, escalating(judge, sharedSource, e, decl.timeoutMs));
  });
  for (const [id, c] of sources) classifiers.set(id, c);
}

/** Checks the semantics of an effective policy and builds its classifiers and compiled rules. */
function build(policy: Policy, issues: PolicyIssue[], baseDirOf: (classifier: number) => string | undefined) {
  const origin = (kind: string, i: number) => `${kind}[${i}]`;
  const classifiers = new Map<string, Classifier>();
  const categories = new Set(policy.taxonomy.map((c) => c.id));
  policy.taxonomy.forEach((c, i) => {
    if (c.parent && !categories.has(c.parent))
      issues.push({ path: `${origin('taxonomy', i)}.parent`, message: `no category "${c.parent}" in the taxonomy` });
  });
  const seen = (kind: string, items: { id: string }[]) => {
    const ids = new Set<string>();
    items.forEach((x, i) => {
      if (ids.has(x.id))
        issues.push({
          path: `${origin(kind, i)}.id`,
          message: `duplicate ${kind.replace(/s$/, '').replace('taxonomy', 'category')} id "${x.id}"`,
        });
      ids.add(x.id);
    });
  };
  seen('taxonomy', policy.taxonomy);
  seen('classifiers', policy.classifiers);
  seen('rubrics', policy.rubrics);
  seen('rules', policy.rules);
  for (const [category] of Object.entries(policy.defaults.messages)) {
    if (!categories.has(category))
      issues.push({ path: `defaults.messages.${category}`, message: `no category "${category}" in the taxonomy` });
  }

  policy.classifiers.forEach((decl, i) => {
    const type = classifierType(decl.type);
    if (!type) {
      issues.push({
        path: `${origin('classifiers', i)}.type`,
        message: `unknown classifier type "${decl.type}"; known: ${classifierTypeNames().join(', ')}`,
      });
      return;
    }
    // A grader may name one of the policy's rubrics by id instead of repeating it inline.
    const ref = decl.params.rubric;
    const rubric = typeof ref === 'string' ? policy.rubrics.find((r) => r.id === ref) : undefined;
    if (typeof ref === 'string' && !rubric)
      return void issues.push({
        path: `${origin('classifiers', i)}.params.rubric`,
        message: `no rubric "${ref}" is declared`,
      });
    const params = type.params.safeParse(rubric ? { ...decl.params, rubric } : decl.params);
    if (!params.success) return void issues.push(...zodIssues(params.error, [origin('classifiers', i), 'params']));
    try {
      classifiers.set(
        decl.id,
        type.create({ id: decl.id, timeoutMs: decl.timeoutMs, params: params.data, baseDir: baseDirOf(i) }),
      );
    } catch (e) {
      issues.push({ path: origin('classifiers', i), message: (e as Error).message });
    }
  });

  escalations(policy, classifiers, issues);

  const g = policy.grading;
  if (g) {
    const rubric = policy.rubrics.find((r) => r.id === g.rubric);
    if (!rubric) issues.push({ path: 'grading.rubric', message: `no rubric "${g.rubric}" is declared` });
    const grader = classifiers.get(g.classifier);
    if (!policy.classifiers.some((c) => c.id === g.classifier))
      issues.push({ path: 'grading.classifier', message: `no classifier "${g.classifier}" is declared` });
    else if (grader && rubric && !rubric.options.every((o) => grader.labels.includes(o.letter))) {
      issues.push({
        path: 'grading.classifier',
        message:
          `classifier "${g.classifier}" does not score every letter of rubric "${rubric.id}" ` +
          `(it has: ${grader.labels.join(', ')})`,
      });
    }
    const letters = new Set(rubric?.options.map((o) => o.letter) ?? []);
    for (const l of [...Object.keys(g.reward), ...g.refusals]) {
      if (rubric && !letters.has(l))
        issues.push({
          path: Object.hasOwn(g.reward, l) ? `grading.reward.${l}` : 'grading.refusals',
          message: `rubric "${rubric.id}" has no option ${l}`,
        });
    }
    const ps = g.promptSafety;
    const safety = ps && classifiers.get(ps.classifier);
    if (ps && !policy.classifiers.some((c) => c.id === ps.classifier))
      issues.push({ path: 'grading.promptSafety.classifier', message: `no classifier "${ps.classifier}" is declared` });
    else if (ps && safety && !safety.labels.includes(ps.label))
      issues.push({
        path: 'grading.promptSafety.label',
        message: `classifier "${ps.classifier}" has no label "${ps.label}"`,
      });
  }

  const rules: CompiledRule[] = [];
  const refusals = refusalsOf(policy);
  checkCategoryLevels(policy, issues);
  policy.rules.forEach((written, i) => {
    const at = origin('rules', i);
    // Levels become numbers here, so the engine, the traces and the decision records see the thresholds used.
    const faults = issues.length;
    const rule = resolveRuleLevels(written, at, policy, classifiers, issues);
    const unresolved = issues.length > faults; // reported; compiling it would only repeat the fault
    policy.rules[i] = rule;
    const stages: Stage[] = rule.stage === 'both' ? ['input', 'output'] : [rule.stage];
    if (rule.category && !categories.has(rule.category))
      issues.push({ path: `${at}.category`, message: `no category "${rule.category}" in the taxonomy` });
    let selectors: CompiledRule['selectors'] | undefined;
    let condition: CompiledCondition | undefined;
    try {
      if (rule.select !== undefined && stages.length > 1)
        throw new Error('a rule with a select names one stage (input or output), not both');
      selectors = Object.fromEntries(
        stages.map((st) => [
          st,
          textSelector(rule.select, st, { options: { ...policy.conversation, ...rule.conversation }, refusals }),
        ]),
      );
    } catch (e) {
      issues.push({ path: `${at}.select`, message: (e as Error).message });
    }
    try {
      if (!unresolved) condition = compileCondition(rule.when, 'when');
    } catch (e) {
      const m = /^(when[^:]*): (.*)$/s.exec((e as Error).message);
      issues.push({ path: `${at}.${m?.[1] ?? 'when'}`, message: m?.[2] ?? (e as Error).message });
    }
    for (const id of condition?.classifiers ?? []) {
      const c = classifiers.get(id);
      if (!policy.classifiers.some((d) => d.id === id))
        issues.push({ path: `${at}.when`, message: `no classifier "${id}" is declared` });
      else if (c && !hasLabels(rule.when, id, c.labels)) {
        issues.push({
          path: `${at}.when`,
          message: `classifier "${id}" has no such label; it has: ${c.labels.join(', ')}`,
        });
      }
    }
    const tool = toolScopeOf(rule, at, issues);
    if (selectors && condition && tool !== null) rules.push({ rule, order: i, stages, selectors, condition, tool });
  });
  rules.push(...allowListRules(policy, policy.rules.length));
  return { classifiers, rules };
}

/** True when every score condition on classifier `id` names one of its labels. */
function hasLabels(when: unknown, id: string, labels: readonly string[]): boolean {
  if (!when || typeof when !== 'object') return true;
  const w = when as Record<string, unknown>;
  if (w.classifier === id) return labels.includes(w.label as string);
  return Object.values(w).every((v) =>
    Array.isArray(v) ? v.every((x) => hasLabels(x, id, labels)) : hasLabels(v, id, labels),
  );
}

/**
 * Reads and parses one JSON file, as a PolicyError on failure. `path` names where the file was referenced (the
 * `extends` of `source`); without it the file is the one asked for, and failing to read it is a PolicyReadError.
 */
function readJson(file: string, source = file, path = ''): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const message = `cannot read${path ? ` ${file}` : ''}: ${(e as Error).message}`;
    if (!path) throw new PolicyReadError(source, [{ path, message }], (e as NodeJS.ErrnoException).code);
    throw new PolicyError(source, [{ path, message }]);
  }
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new PolicyError(file, [{ path: '', message: jsonErrorText(parsed) }]);
  return parsed.value;
}

/**
 * Validates a parsed policy document — the schema, then the semantics (unique ids, taxonomy references,
 * classifier types and parameters, JSONPath selectors, regexes, labels) — and compiles it. `resolveExtends`
 * loads the documents this one extends. Throws a PolicyError listing every fault with its JSON path.
 */
export function compilePolicy(
  doc: unknown,
  source = '(inline)',
  resolveExtends?: (ref: string) => { doc: unknown; source: string },
): LoadedPolicy {
  const docs: unknown[] = [];
  const chain: { policy: Policy; source: string }[] = [];
  let cur: { doc: unknown; source: string } | undefined = { doc, source };
  while (cur) {
    if (chain.length > 8)
      throw new PolicyError(source, [{ path: 'extends', message: 'more than 8 levels of extends (a cycle?)' }]);
    const deep = depthPast(cur.doc, MAX_DEPTH);
    if (deep !== undefined)
      throw new PolicyError(cur.source, [{ path: `${deep}…`, message: `nested more than ${MAX_DEPTH} levels deep` }]);
    const parsed = PolicySchema.safeParse(cur.doc);
    if (!parsed.success) throw new PolicyError(cur.source, zodIssues(parsed.error));
    docs.push(cur.doc);
    chain.push({ policy: parsed.data, source: cur.source });
    const ref = parsed.data.extends;
    if (ref === undefined) cur = undefined;
    else if (!resolveExtends)
      throw new PolicyError(cur.source, [{ path: 'extends', message: 'extends needs a policy file on disk' }]);
    else cur = resolveExtends(ref);
  }
  const policy = chain.map((c) => c.policy).reduceRight((parent, child) => extend(parent, child));
  const issues: PolicyIssue[] = [];
  if (policy.classifiers.length === 0)
    issues.push({
      path: 'classifiers',
      message: 'a policy declares at least one classifier (here or in what it extends)',
    });
  const origins = originsOf(chain);
  // Relative paths in a classifier's params resolve against the folder of the file that declares it.
  const baseDirOf = (i: number) => {
    const file = origins.classifiers[i]?.file ?? source;
    return file.startsWith('(') ? undefined : dirname(file);
  };
  const { classifiers, rules } = build(policy, issues, baseDirOf);
  if (issues.length)
    throw new PolicyError(
      source,
      issues.map((i) => locate(i, source, origins, chain)),
    );
  return { policy, revision: revisionOf(docs), source, classifiers, rules };
}

/** Reads, parses and compiles a policy file or folder, following `extends` relative to each file. */
export function loadPolicy(path: string = DEFAULT_POLICY_PATH): LoadedPolicy {
  const file = policyFile(path);
  let from = file;
  return compilePolicy(readJson(file), file, (ref) => {
    const next = resolve(dirname(from), ref);
    const doc = readJson(next, from, 'extends');
    from = next;
    return { doc, source: next };
  });
}
