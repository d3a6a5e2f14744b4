/**
 * Resolving levels at load: a score condition whose threshold names a level (`"strict"`, `"balanced"`,
 * `"permissive"`) or `"level"` (the policy's level for the rule's category) gets the number the classifier's
 * calibrated levels hold for that label. The engine then only ever compares numbers.
 */
import type { Classifier } from '../classifiers/types.js';
import type { PolicyIssue } from './load.js';
import type { Condition, Level, Policy, Rule } from './schema.js';

/**
 * The level `"level"` means for a rule: the level set for its category, else for the nearest ancestor category
 * that has one, else the policy's `level` (default balanced).
 * @example
 * levelFor(policy, 'malware'); // 'strict' when categoryLevels has S2: strict and malware's parent is S2
 */
export function levelFor(policy: Policy, category: string | undefined): Level {
  const parents = new Map(policy.taxonomy.map((c) => [c.id, c.parent]));
  const seen = new Set<string>();
  for (let c = category; c !== undefined && !seen.has(c); c = parents.get(c)) {
    seen.add(c);
    const level = policy.categoryLevels?.[c];
    if (level) return level;
  }
  return policy.level ?? 'balanced';
}

/** A condition with every level replaced by its number; issues are pushed with their JSON path. */
function resolve(
  c: Condition,
  path: string,
  ctx: { rule: Rule; policy: Policy; classifiers: ReadonlyMap<string, Classifier>; issues: PolicyIssue[] },
): Condition {
  if ('all' in c) return { all: c.all.map((x, i) => resolve(x, `${path}.all[${i}]`, ctx)) };
  if ('any' in c) return { any: c.any.map((x, i) => resolve(x, `${path}.any[${i}]`, ctx)) };
  if ('not' in c) return { not: resolve(c.not, `${path}.not`, ctx) };
  if (!('classifier' in c) || typeof c.threshold === 'number') return c;
  const level = c.threshold === 'level' ? levelFor(ctx.policy, ctx.rule.category) : c.threshold;
  const classifier = ctx.classifiers.get(c.classifier);
  if (!classifier) return c; // an undeclared or broken classifier is reported by the loader itself
  const at = `${path}.threshold`;
  if (!classifier.levels) {
    ctx.issues.push({
      path: at,
      message:
        `classifier "${c.classifier}" has no calibrated levels (a model folder needs a levels.json: ` +
        `npm run calibrate -- --model <folder>); give a number instead`,
    });
    return c;
  }
  const t = classifier.levels[level][c.label];
  if (t === undefined) {
    const known = Object.keys(classifier.levels[level]).join(', ');
    ctx.issues.push({ path: at, message: `level ${level} has no threshold for "${c.label}" (it has: ${known})` });
    return c;
  }
  return { ...c, threshold: t };
}

/**
 * The rule with its levels resolved to numbers (the rule itself when it names none). Issues (a classifier without
 * levels, a label a level does not cover) are pushed with the rule's path.
 * @example
 * const resolved = resolveRuleLevels(rule, 'rules[3]', policy, classifiers, issues);
 */
export function resolveRuleLevels(
  rule: Rule,
  at: string,
  policy: Policy,
  classifiers: ReadonlyMap<string, Classifier>,
  issues: PolicyIssue[],
): Rule {
  if (!JSON.stringify(rule.when).includes('"threshold":"')) return rule;
  return { ...rule, when: resolve(rule.when, `${at}.when`, { rule, policy, classifiers, issues }) };
}

/** Checks `categoryLevels` names categories of the taxonomy. */
export function checkCategoryLevels(policy: Policy, issues: PolicyIssue[]): void {
  const ids = new Set(policy.taxonomy.map((c) => c.id));
  for (const c of Object.keys(policy.categoryLevels ?? {}))
    if (!ids.has(c)) issues.push({ path: `categoryLevels.${c}`, message: `no category "${c}" in the taxonomy` });
}
