import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';

const say = (w: Writable, text: string): void => void w.write(`${text}\n`);

/**
 * Reports an `audit export`'s manifest (file log or database alike): with `--out F`, written beside the export as
 * `F.manifest.json` (never over an existing file) and announced by `summary` on stderr (or printed on stdout with
 * `--json`); without `--out`, printed on stderr, since stdout holds the export itself.
 */
export async function reportManifest(
  manifest: object,
  o: { out?: string; json: boolean; summary: string },
  io: { stdout: Writable; stderr: Writable },
): Promise<void> {
  const text = JSON.stringify(manifest, null, 2);
  if (!o.out) return say(io.stderr, text);
  const path = `${resolve(o.out)}.manifest.json`;
  await writeFile(path, `${text}\n`, { flag: 'wx' });
  if (o.json) say(io.stdout, text);
  else say(io.stderr, `${o.summary}; manifest ${path}`);
}
