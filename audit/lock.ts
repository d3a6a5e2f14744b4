/**
 * One writer per log directory. Two processes appending to the same chain would fork it, so `ChainLog.open`
 * takes `<dir>/LOCK` (pid and hostname) and refuses when a live process on this host holds it. A lock left by
 * a dead process (SIGKILL, crash) or by a process with our own pid (a restarted container) is taken over.
 * Locks from another host cannot be checked and are taken over too: give each instance its own directory.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

const held = new Set<string>();

export interface DirLock {
  /** Set when a stale lock was replaced: who held it. */
  takenOver: { pid: number; hostname: string } | null;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * @example const lock = await lockDir(dir); … await lock.release();
 */
export async function lockDir(dir: string): Promise<DirLock> {
  const key = resolve(dir);
  if (held.has(key)) throw new Error(`audit log ${key} is already open in this process`);
  const path = join(key, 'LOCK');
  const me = { pid: process.pid, hostname: hostname() };
  let takenOver: DirLock['takenOver'] = null;
  try {
    await writeFile(path, JSON.stringify(me), { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let other: { pid?: unknown; hostname?: unknown } = {};
    try {
      other = JSON.parse(await readFile(path, 'utf8')) as typeof other;
    } catch {
      // unreadable lock: treat as stale
    }
    const pid = typeof other.pid === 'number' ? other.pid : -1;
    const host = typeof other.hostname === 'string' ? other.hostname : '?';
    if (host === me.hostname && pid !== me.pid && pid > 0 && alive(pid)) {
      throw new Error(
        `audit log ${key} is held by process ${pid} on this host; one writer per directory (if that process is not a gateway, delete ${path})`,
      );
    }
    await writeFile(path, JSON.stringify(me), { mode: 0o644 });
    takenOver = { pid, hostname: host };
  }
  held.add(key);
  return {
    takenOver,
    async release() {
      if (!held.delete(key)) return;
      await unlink(path).catch(() => undefined);
    },
  };
}
