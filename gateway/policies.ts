import type winston from 'winston';
import type { Classifier } from '../classifiers/types.js';
import type { PolicyBundle } from '../policies/bundle.js';
import { selectPolicy } from '../policies/bundle.js';
import type { LoadedPolicy } from '../policies/load.js';
import { PolicyStore, type ReloadResult } from '../policies/store.js';
import { loadPolicyTests, runPolicyTests } from '../policies/testing.js';
import type { Metrics } from './http/metrics.js';
import type { PolicySource } from './pipeline/pipeline.js';

export interface GatewayPolicies {
  store: PolicyStore;
  source: PolicySource;
  /** Every classifier of the bundle in force and of the shadow candidate. */
  classifiers(): Classifier[];
  close(): Promise<void>;
}

const policiesOf = (b: PolicyBundle) => [b.default, ...b.bindings.map((x) => x.policy)];
const classifiersOf = (ps: (LoadedPolicy | undefined)[]) => [
  ...new Set(ps.flatMap((p) => (p ? [...p.classifiers.values()] : []))),
];

/**
 * A candidate's own tests (`*.test.json` beside each policy of the bundle) must pass before it goes live.
 * Cases marked todo report without failing.
 */
export async function policyTestsPass(bundle: PolicyBundle): Promise<string[]> {
  const problems: string[] = [];
  for (const policy of new Set(policiesOf(bundle))) {
    const suites = loadPolicyTests(policy.source);
    if (!suites.length) continue;
    const report = await runPolicyTests(policy, suites);
    for (const c of report.cases) {
      if (c.status !== 'PASS' && !c.todo)
        problems.push(`${policy.policy.id}: test "${c.name}" ${c.status}: ${c.problems.join('; ')}`);
    }
  }
  return problems;
}

/** A candidate's classifiers must load before it goes live. */
async function classifiersReady(bundle: PolicyBundle): Promise<string[]> {
  const results = await Promise.allSettled(classifiersOf(policiesOf(bundle)).map((c) => c.ready?.()));
  return results.flatMap((r) =>
    r.status === 'rejected' ? [`a classifier failed to load: ${String(r.reason?.message ?? r.reason)}`] : [],
  );
}

/**
 * The gateway's policy lifecycle: the store, how candidates are checked (classifiers load, then the policy's
 * own tests pass), what a reload reports (metrics, a log line), and the retirement of classifiers that a
 * reload replaced, after in-flight requests have had time to finish.
 */
export async function openPolicies(o: {
  path: string;
  shadowPath?: string;
  watch: boolean;
  logger: winston.Logger;
  metrics: Metrics;
  /** Extra checks on a candidate (the policy-test runner). */
  verify?: (bundle: PolicyBundle) => Promise<string[]>;
  retireAfterMs?: number;
}): Promise<GatewayPolicies> {
  const retiring = new Set<NodeJS.Timeout>();
  let previous: Classifier[] = [];
  const onReload = (r: ReloadResult) => {
    o.metrics.policyReloads.inc({ result: r.ok ? 'ok' : 'failed' });
    if (!r.ok) {
      o.logger.warn('policy reload failed; the last good revision stays in force', {
        trigger: r.trigger,
        revision: r.revision,
        candidate: r.candidate,
        faults: r.faults,
      });
      return;
    }
    o.logger.info('policy reloaded', { trigger: r.trigger, revision: r.revision });
    o.metrics.setPolicy(store.current().default.policy.id, r.revision);
    const now = classifiersOf([...policiesOf(store.current()), store.shadow()]);
    const gone = previous.filter((c) => !now.includes(c));
    previous = now;
    const t = setTimeout(() => {
      retiring.delete(t);
      for (const c of gone) void c.close?.();
    }, o.retireAfterMs ?? 60_000);
    t.unref();
    retiring.add(t);
  };
  // onReload reads `store`: it runs only on reloads, which start after open resolves.
  const store = await PolicyStore.open({
    path: o.path,
    shadowPath: o.shadowPath,
    onReload,
    verify: async (bundle) => {
      const problems = await classifiersReady(bundle);
      return problems.length ? problems : ((await o.verify?.(bundle)) ?? []);
    },
  });
  previous = classifiersOf([...policiesOf(store.current()), store.shadow()]);
  o.metrics.setPolicy(store.current().default.policy.id, store.current().revision);
  if (o.watch) store.watch();
  return {
    store,
    source: {
      select: (meta) => {
        const bundle = store.current();
        return { policy: selectPolicy(bundle, meta), bundle: bundle.revision };
      },
      shadow: () => store.shadow(),
    },
    classifiers: () => classifiersOf([...policiesOf(store.current()), store.shadow()]),
    async close() {
      store.close();
      for (const t of retiring) clearTimeout(t);
      for (const c of classifiersOf([...policiesOf(store.current()), store.shadow()])) await c.close?.();
    },
  };
}

/** What /readyz and GET /v1/policies say about the policies in force. */
export function policyStatus(p: GatewayPolicies) {
  const b = p.store.current();
  const shadow = p.store.shadow();
  return {
    id: b.default.policy.id,
    revision: b.revision,
    source: b.source,
    policies: [b.default, ...b.bindings.map((x) => x.policy)].map((x) => ({
      id: x.policy.id,
      revision: x.revision,
      mode: x.policy.mode,
      rules: x.rules.length,
    })),
    bindings: b.bindings.map((x) => ({ match: x.match, policy: x.policy.policy.id })),
    shadow: shadow ? { id: shadow.policy.id, revision: shadow.revision } : null,
    last_reload: p.store.lastReload ?? null,
  };
}
