/**
 * How `extends` merges a policy into the one it builds on, and where each item of the merged policy was written,
 * so that a fault is reported in its author's file at its author's position.
 */
import type { PolicyIssue } from './load.js';
import type { Policy } from './schema.js';

/** Items of `base` replaced by items of `over` with the same id; new ones appended in order. */
export function mergeById<T extends { id: string }>(base: T[], over: T[]): T[] {
  const out = [...base];
  for (const item of over) {
    const i = out.findIndex((b) => b.id === item.id);
    if (i >= 0) out[i] = item;
    else out.push(item);
  }
  return out;
}

/** The effective policy of a child that extends a parent. */
export function extend(parent: Policy, child: Policy): Policy {
  return {
    ...child,
    extends: undefined,
    // A child without its own allow-lists keeps its parent's.
    tools: child.tools ?? parent.tools,
    level: child.level ?? parent.level,
    categoryLevels:
      parent.categoryLevels || child.categoryLevels ? { ...parent.categoryLevels, ...child.categoryLevels } : undefined,
    defaults: {
      ...parent.defaults,
      ...child.defaults,
      messages: { ...parent.defaults.messages, ...child.defaults.messages },
    },
    taxonomy: mergeById(parent.taxonomy, child.taxonomy),
    classifiers: mergeById(parent.classifiers, child.classifiers),
    rubrics: mergeById(parent.rubrics, child.rubrics),
    rules: mergeById(parent.rules, child.rules),
  };
}

const ITEM_KINDS = ['taxonomy', 'classifiers', 'rubrics', 'rules'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];
/** Where an item of the merged policy was written: its file and its index there. */
export type Origin = { file: string; index: number };

/** For each kind of item, the file and index each merged item came from, following extend()'s merge. */
export function originsOf(chain: { policy: Policy; source: string }[]): Record<ItemKind, Origin[]> {
  const origins = {} as Record<ItemKind, Origin[]>;
  for (const kind of ITEM_KINDS) {
    // As chain.reduceRight(extend): the root ancestor's items as written (duplicates too), then each child merged in.
    const placed = chain.map(({ policy, source }) =>
      policy[kind].map((x, index) => ({ id: x.id, file: source, index })),
    );
    origins[kind] = placed.reduceRight((parent, child) => mergeById(parent, child));
  }
  return origins;
}

/**
 * Moves an issue found in the merged policy to where its author wrote it: `classifiers[4]` of the merged policy
 * becomes `classifiers[1]` of the parent file, with that file named.
 */
export function locate(
  issue: PolicyIssue,
  source: string,
  origins: Record<ItemKind, Origin[]>,
  chain: { policy: Policy; source: string }[],
): PolicyIssue {
  const item = /^(taxonomy|classifiers|rubrics|rules)\[(\d+)\](.*)$/s.exec(issue.path);
  let at: Origin | undefined;
  let rest = '';
  if (item?.[1] !== undefined && item[2] !== undefined) {
    at = origins[item[1] as ItemKind][Number(item[2])];
    rest = item[3] ?? '';
    if (at)
      return at.file === source
        ? { ...issue, path: `${item[1]}[${at.index}]${rest}` }
        : place(issue, at, item[1], rest);
  }
  const message = /^defaults\.messages\.(.+)$/s.exec(issue.path)?.[1];
  const file =
    message === undefined ? undefined : chain.find((c) => Object.hasOwn(c.policy.defaults.messages, message));
  return file && file.source !== source ? { ...issue, file: file.source } : issue;
}

const place = (issue: PolicyIssue, at: Origin, kind: string, rest: string): PolicyIssue => ({
  ...issue,
  file: at.file,
  path: `${kind}[${at.index}]${rest}`,
});
