import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A process id written to a file so that `kill -HUP "$(cat .data/gateway.pid)"` reaches this process only. */
export interface PidFile {
  path: string;
  /** The pid of a live process the file named before this one replaced it, if any. */
  replaced?: number;
  /** Removes the file if it still names this process (another gateway may have replaced it since). */
  remove(): void;
}

/** True when a process with this id exists (signal 0 checks without delivering anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Writes this process's id to `path` (its folder created if needed). A file left by a crash is replaced; so is
 * one naming a live process, reported in `replaced` so the caller can warn: refusing to start would leave a
 * gateway down over a file whose pid may since have been reused.
 *
 * @example
 * const pid = writePidFile('.data/gateway.pid'); // … on exit: pid.remove();
 */
export function writePidFile(path: string, pid = process.pid): PidFile {
  const abs = resolve(path);
  let previous: number | undefined;
  try {
    previous = Number.parseInt(readFileSync(abs, 'utf8'), 10);
  } catch {
    previous = undefined;
  }
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, `${pid}\n`);
  const replaced = previous !== undefined && previous > 0 && previous !== pid && alive(previous) ? previous : undefined;
  return {
    path: abs,
    replaced,
    remove() {
      try {
        if (Number.parseInt(readFileSync(abs, 'utf8'), 10) === pid) rmSync(abs, { force: true });
      } catch {
        // Already gone: nothing to clean up.
      }
    },
  };
}
