import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { loadBundle, type PolicyBundle } from './bundle.js';
import { PolicyError, policyFile, type LoadedPolicy } from './load.js';

/** What a reload attempt did: the candidate is in force, or it was rejected for its faults. */
export type ReloadResult =
  | {
      ok: true;
      trigger: string;
      at: string;
      /** The bundle revision now in force: the candidate's. */
      revision: string;
    }
  | {
      ok: false;
      trigger: string;
      at: string;
      /** The bundle revision still in force. */
      revision: string;
      /** The candidate's revision, when it loaded far enough to have one. */
      candidate?: string;
      /** Why the candidate was rejected: load errors, or its failed checks (tests). */
      faults: string[];
    };

export interface PolicyStoreOptions {
  /** The enforced bundle: a policy file or folder. */
  path: string;
  /** An optional candidate policy that runs in shadow beside the enforced one. */
  shadowPath?: string;
  /**
   * Checks a candidate before it goes live — e.g. runs the policy's tests. Returns failure messages; any
   * failure keeps the last good bundle in force.
   */
  verify?: (bundle: PolicyBundle) => Promise<string[]>;
  /** Called after every reload attempt (metrics, logs). */
  onReload?: (result: ReloadResult) => void;
  /** Milliseconds to wait after a file change before reloading, so editors' multi-step saves settle. */
  debounceMs?: number;
}

const toErrors = (e: unknown): string[] =>
  e instanceof PolicyError
    ? e.issues.map((i) => `${i.file ?? e.source}: ${i.path || '(root)'}: ${i.message}`)
    : [String((e as Error)?.message ?? e)];

/**
 * Holds the policy bundle in force and swaps it atomically. A candidate is loaded, validated and verified
 * (its tests run) before the swap; a failing candidate never goes live — the last good bundle stays and the
 * failure is kept for /readyz, metrics and logs. Requests read the bundle once when they start, so a swap
 * never changes a request midway.
 *
 * @example
 * const store = await PolicyStore.open({ path: 'policies/default', verify: runTests });
 * store.watch();               // reload on file changes
 * process.on('SIGHUP', () => void store.reload('SIGHUP'));
 */
export class PolicyStore {
  private bundle: PolicyBundle;
  private shadowPolicy: LoadedPolicy | undefined;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  /** Where reloads read the enforced bundle: `opts.path`, until reloadFrom adopts another (a published one). */
  private path: string;
  lastReload: ReloadResult | undefined;

  private constructor(
    private readonly opts: PolicyStoreOptions,
    bundle: PolicyBundle,
    shadow: PolicyBundle | undefined,
  ) {
    this.bundle = bundle;
    this.path = opts.path;
    this.shadowPolicy = shadow && asCandidate(shadow.default);
  }

  /** Loads and verifies the initial bundle; throws if it is invalid (start-up must not serve a bad policy). */
  static async open(opts: PolicyStoreOptions): Promise<PolicyStore> {
    const bundle = loadBundle(opts.path);
    const problems = (await opts.verify?.(bundle)) ?? [];
    if (problems.length)
      throw new PolicyError(
        bundle.source,
        problems.map((m) => ({ path: 'tests', message: m })),
      );
    const shadow = opts.shadowPath ? loadBundle(opts.shadowPath) : undefined;
    return new PolicyStore(opts, bundle, shadow);
  }

  current(): PolicyBundle {
    return this.bundle;
  }

  shadow(): LoadedPolicy | undefined {
    return this.shadowPolicy;
  }

  /** Loads the candidate from disk, verifies it, and swaps it in; concurrent calls share one reload. */
  reload(trigger: string): Promise<ReloadResult> {
    this.reloading ??= this.doReload(trigger).finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  /**
   * Loads the bundle at `path` (a published revision, unpacked), verifies it and swaps it in, as reload does;
   * on success later reloads read `path`. With `expect`, a bundle whose revision differs is rejected.
   */
  async reloadFrom(path: string, trigger: string, expect?: string): Promise<ReloadResult> {
    while (this.reloading) await this.reloading.catch(() => undefined);
    this.reloading = this.doReload(trigger, path, expect).finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  /** Loads and verifies the bundle at `path` without putting it in force: its revision, or its faults. */
  async validate(path: string): Promise<{ ok: true; bundle: PolicyBundle } | { ok: false; faults: string[] }> {
    try {
      const bundle = loadBundle(path);
      const faults = (await this.opts.verify?.(bundle)) ?? [];
      return faults.length ? { ok: false, faults } : { ok: true, bundle };
    } catch (e) {
      return { ok: false, faults: toErrors(e) };
    }
  }

  private async doReload(trigger: string, path = this.path, expect?: string): Promise<ReloadResult> {
    const at = new Date().toISOString();
    let result: ReloadResult;
    try {
      const candidate = loadBundle(path);
      const errors = (await this.opts.verify?.(candidate)) ?? [];
      if (expect !== undefined && candidate.revision !== expect)
        errors.push(`the bundle's revision is ${candidate.revision}, not the published ${expect}`);
      const shadow = this.opts.shadowPath ? loadBundle(this.opts.shadowPath) : undefined;
      if (errors.length) {
        result = {
          ok: false,
          trigger,
          at,
          revision: this.bundle.revision,
          candidate: candidate.revision,
          faults: errors,
        };
      } else {
        this.bundle = candidate;
        this.path = path;
        this.shadowPolicy = shadow && asCandidate(shadow.default);
        result = { ok: true, trigger, at, revision: candidate.revision };
      }
    } catch (e) {
      result = { ok: false, trigger, at, revision: this.bundle.revision, faults: toErrors(e) };
    }
    this.lastReload = result;
    this.opts.onReload?.(result);
    return result;
  }

  /** Reloads when a policy file changes (the folder of the enforced and shadow policies is watched). */
  watch(): void {
    const dirs = new Set([
      dirname(policyFile(this.opts.path)),
      ...(this.opts.shadowPath ? [dirname(policyFile(this.opts.shadowPath))] : []),
    ]);
    for (const dir of dirs) {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (name && !String(name).endsWith('.json')) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.reload('file change'), this.opts.debounceMs ?? 200);
      });
      w.on('error', () => undefined);
      this.watchers.push(w);
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

/**
 * The shadow candidate is evaluated as if it were enforced, to learn what it would decide; the pipeline
 * records that and never applies it.
 */
const asCandidate = (p: LoadedPolicy): LoadedPolicy => ({ ...p, policy: { ...p.policy, mode: 'enforce' } });
