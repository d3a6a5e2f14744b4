import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { PreferenceStats } from './export-rewards.js';

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

/**
 * Says on stderr what a reward export could not include, and why; false when the content mode left nothing to
 * export at all (every answer's text was unkept), which the CLIs report as a failure rather than an empty file.
 */
export function reportPreference(
  manifest: { format: string; preference?: PreferenceStats },
  stderr: Writable,
): boolean {
  const p = manifest.preference;
  if (!p) return true;
  const { no_content, not_retained, no_chosen } = p.skipped;
  if (no_content)
    say(
      stderr,
      `${no_content} graded answers were not exported: their records keep no text (content mode hash or none); ` +
        'preference data needs GATEWAY_AUDIT_CONTENT=full or redacted',
    );
  if (not_retained)
    say(
      stderr,
      `${not_retained} graded answers were not exported: their text was not retained (withheld as disallowed)`,
    );
  if (no_chosen)
    say(
      stderr,
      `${no_chosen} rejected answers had nothing to pair with (no better answer, or no refusal: pass --refusal TEXT); ` +
        'the kto format includes them',
    );
  if (p.review) say(stderr, `${p.review} lines are over-refusals flagged "review": true`);
  return p.lines > 0 || no_content === 0;
}
