import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { revisionOf } from './canonical.js';
import { jsonErrorText, parseJsonText } from './json-text.js';
import type { RequestMeta } from './conditions.js';
import { loadPolicy, PolicyError, policyFile, type LoadedPolicy } from './load.js';

/**
 * A policy bundle: the default policy, plus optional bindings that choose another policy by tenant, API key,
 * model or route. Bindings live in `bindings.json` beside the default `policy.json`:
 *
 * ```json
 * { "bindings": [
 *     { "match": { "tenant": ["acme"] }, "policy": "strict.json" },
 *     { "match": { "model": ["gpt-4o-mini"], "route": ["/v1/chat/completions"] }, "policy": "light.json" } ] }
 * ```
 * The first binding whose every field matches wins; otherwise the default policy applies.
 */

const matchList = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .transform((v) => (Array.isArray(v) ? v : [v]));

export const BindingsSchema = z.strictObject({
  bindings: z.array(
    z.strictObject({
      match: z
        .strictObject({
          tenant: matchList.optional(),
          key: matchList.optional(),
          model: matchList.optional(),
          route: matchList.optional(),
        })
        .refine((m) => Object.keys(m).length > 0, 'a binding matches on at least one of tenant, key, model, route'),
      policy: z.string().min(1),
    }),
  ),
});

export interface PolicyBundle {
  /** sha256 over the canonical JSON of every policy revision and the bindings: what records name. */
  revision: string;
  default: LoadedPolicy;
  bindings: { match: Partial<Record<'tenant' | 'key' | 'model' | 'route', string[]>>; policy: LoadedPolicy }[];
  source: string;
}

/** Loads a bundle: a policy file, or a folder with `policy.json` and optionally `bindings.json`. */
export function loadBundle(path: string): PolicyBundle {
  const main = loadPolicy(path);
  const file = policyFile(path);
  const bindingsFile = join(dirname(file), 'bindings.json');
  const bindings: PolicyBundle['bindings'] = [];
  let raw: unknown = null;
  if (path !== file && existsSync(bindingsFile)) {
    const text = parseJsonText(readFileSync(bindingsFile, 'utf8'));
    if (!text.ok) throw new PolicyError(bindingsFile, [{ path: '', message: jsonErrorText(text) }]);
    raw = text.value;
    const parsed = BindingsSchema.safeParse(raw);
    if (!parsed.success) {
      throw new PolicyError(
        bindingsFile,
        parsed.error.issues.map((i) => ({
          path: i.path
            .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
            .join('')
            .replace(/^\./, ''),
          message: i.message,
        })),
      );
    }
    const cache = new Map<string, LoadedPolicy>();
    for (const b of parsed.data.bindings) {
      const target = resolve(dirname(file), b.policy);
      let policy = cache.get(target);
      if (!policy) cache.set(target, (policy = target === file ? main : loadPolicy(target)));
      bindings.push({ match: b.match, policy });
    }
  }
  return {
    revision: revisionOf({ default: main.revision, bindings: raw, policies: bindings.map((b) => b.policy.revision) }),
    default: main,
    bindings,
    source: file,
  };
}

/** Which binding applies to a request: its index in `bundle.bindings`, or -1 for the default policy. */
export function bindingFor(
  bundle: PolicyBundle,
  meta: Pick<RequestMeta, 'tenant' | 'key' | 'model' | 'route'>,
): number {
  return bundle.bindings.findIndex((b) =>
    (Object.entries(b.match) as [keyof typeof b.match, string[]][]).every(([k, values]) => {
      const value = meta[k];
      return value !== null && values.includes(value);
    }),
  );
}

/** The policy that applies to a request: the first binding whose every field matches, else the default. */
export function selectPolicy(
  bundle: PolicyBundle,
  meta: Pick<RequestMeta, 'tenant' | 'key' | 'model' | 'route'>,
): LoadedPolicy {
  return bundle.bindings[bindingFor(bundle, meta)]?.policy ?? bundle.default;
}
