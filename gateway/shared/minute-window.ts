/**
 * Sliding one-minute windows of counts, in one-second buckets: the algorithm behind the per-minute limits, once
 * in-process (LocalWindows) and once as the Lua script that Redis runs (redis-windows.ts). Both follow the same
 * rules, so a replica that falls back to its own memory while Redis is down limits the same way.
 *
 * A window holds, per second, how much was used in that second; what counts is the sum over the last 60 seconds.
 * A request window is checked and taken in one step (`take`); a token window is only checked at admission (some
 * tokens must be left) and charged later, once the answer's usage is known.
 */

export const WINDOW_S = 60;

/** One window to check: its name, its limit, and whether admission takes one unit of it (requests). */
export interface WindowCheck {
  key: string;
  limit: number;
  take: boolean;
}

/** A window after the check: used in the last minute (this request included when taken), and its timings. */
export interface WindowState {
  used: number;
  /** Seconds until this window would admit: 0 when it did. */
  retryAfterS: number;
  /** Seconds until its oldest counted second leaves the window (when `used` next drops); 0 when empty. */
  resetS: number;
}

export interface WindowVerdict {
  allowed: boolean;
  states: WindowState[];
}

/** Where windows live: one process's memory, or Redis (shared by every replica). */
export interface WindowStore {
  /** Checks every window; only if all admit, takes one unit from those with `take`. */
  check(checks: WindowCheck[]): Promise<WindowVerdict>;
  /** Adds `amount` to each window, in the current second (tokens, after the answer). */
  charge(keys: string[], amount: number): Promise<void>;
}

/**
 * The state of one window from its buckets (second → count), `need` units wanted: how much is used, and if
 * `used + need` passes the limit, how long until enough old seconds have left the window.
 */
export function windowState(buckets: [number, number][], now: number, limit: number, need: number): WindowState {
  const live = buckets.filter(([sec]) => sec > now - WINDOW_S).sort((a, b) => a[0] - b[0]);
  const used = live.reduce((sum, [, n]) => sum + n, 0);
  const resetS = live[0] ? live[0][0] + WINDOW_S - now : 0;
  let retryAfterS = 0;
  if (used + need > limit) {
    let left = used;
    for (const [sec, n] of live) {
      left -= n;
      retryAfterS = sec + WINDOW_S - now;
      if (left + need <= limit) break;
    }
  }
  return { used, retryAfterS, resetS };
}

/**
 * The windows in this process's memory: the per-process limits, and the fallback while Redis is down. At most
 * `maxWindows` are kept (the least recently used go first), so a flood of distinct keys cannot grow it unbounded.
 *
 * @example
 * const windows = new LocalWindows();
 * await windows.check([{ key: 'rpm:key_ab12', limit: 100, take: true }]); // { allowed: true, states: [{ used: 1, … }] }
 */
export class LocalWindows implements WindowStore {
  private readonly windows = new Map<string, Map<number, number>>();

  constructor(
    private readonly clock: () => number = () => Math.floor(Date.now() / 1000),
    private readonly maxWindows = 100_000,
  ) {}

  check(checks: WindowCheck[]): Promise<WindowVerdict> {
    const now = this.clock();
    const states = checks.map((c) => {
      const w = this.window(c.key, now);
      return windowState([...w], now, c.limit, 1);
    });
    const allowed = states.every((s) => s.retryAfterS === 0);
    if (allowed)
      checks.forEach((c, i) => {
        const state = states[i];
        if (!c.take || !state) return;
        const w = this.window(c.key, now);
        w.set(now, (w.get(now) ?? 0) + 1);
        state.used += 1;
        if (state.resetS === 0) state.resetS = WINDOW_S;
      });
    return Promise.resolve({ allowed, states });
  }

  charge(keys: string[], amount: number): Promise<void> {
    const now = this.clock();
    for (const key of keys) {
      const w = this.window(key, now);
      w.set(now, (w.get(now) ?? 0) + amount);
    }
    return Promise.resolve();
  }

  /** The window named `key`, its seconds past the minute dropped, moved to the most recently used end. */
  private window(key: string, now: number): Map<number, number> {
    const w = this.windows.get(key) ?? new Map<number, number>();
    for (const sec of w.keys()) if (sec <= now - WINDOW_S) w.delete(sec);
    this.windows.delete(key);
    this.windows.set(key, w);
    if (this.windows.size > this.maxWindows) {
      const oldest = this.windows.keys().next();
      if (!oldest.done) this.windows.delete(oldest.value);
    }
    return w;
  }
}
