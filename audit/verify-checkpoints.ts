/**
 * The first half of verification: the checkpoints file on its own. Every checkpoint must be readable, signed by
 * a trusted key, and chained to the one before it; the result indexes them by `last_seq` for the record walk.
 */
import type { KeyObject } from 'node:crypto';
import {
  checkpointInconsistency,
  readCheckpoints,
  verifyCheckpointSignature,
  type CheckpointFile,
} from './checkpoints.js';
import type { Checkpoint } from './types.js';
import type { VerifyProblem } from './verify-report.js';

export interface CheckpointFileCheck {
  /** The readable checkpoints, in file order. */
  checkpoints: Checkpoint[];
  /** The same, by `last_seq`. */
  bySeq: Map<number, Checkpoint>;
  problems: VerifyProblem[];
  warnings: string[];
}

/**
 * Checks `checkpoints.ndjson` in `dir` against the trusted keys (by fingerprint). `unreadableSeq` is the seq an
 * unreadable line is reported at (it cannot say which records it covered).
 * @example const { bySeq, problems } = await checkCheckpointFile(dir, fingerprints, 1);
 */
export async function checkCheckpointFile(
  dir: string,
  fingerprints: Map<string, KeyObject>,
  unreadableSeq: number,
): Promise<CheckpointFileCheck> {
  return checkCheckpoints(await readCheckpoints(dir), fingerprints, unreadableSeq);
}

/**
 * The same checks over checkpoints read from anywhere (a file, or a database table); `where` names the i-th
 * checkpoint (0-based) in problems, `CHECKPOINTS_FILE:line` by default.
 */
export function checkCheckpoints(
  file: CheckpointFile,
  fingerprints: Map<string, KeyObject>,
  unreadableSeq: number,
  where: (i: number) => string = (i) => `checkpoints.ndjson:${i + 1}`,
): CheckpointFileCheck {
  const out: CheckpointFileCheck = { checkpoints: file.checkpoints, bySeq: new Map(), problems: [], warnings: [] };
  for (const b of file.bad)
    out.problems.push({
      seq: unreadableSeq,
      reason: 'checkpoint-forged',
      detail: `unreadable checkpoint (${b.reason})`,
      at: `checkpoints.ndjson:${b.line}`,
    });
  if (file.tornAt)
    out.warnings.push('checkpoints.ndjson ends in a torn line (a crash mid-write); the gateway truncates it on start');
  let prevCp: Checkpoint | null = null;
  file.checkpoints.forEach((cp, i) => {
    const at = where(i);
    const key = fingerprints.get(cp.key_fingerprint);
    if (!key)
      out.problems.push({
        seq: cp.first_seq,
        reason: 'checkpoint-forged',
        detail: `signed by unknown key ${cp.key_fingerprint}`,
        at,
      });
    else if (!verifyCheckpointSignature(cp, key))
      out.problems.push({ seq: cp.first_seq, reason: 'checkpoint-forged', detail: 'signature does not verify', at });
    const problem = checkpointInconsistency(prevCp, cp);
    if (problem)
      out.problems.push({
        seq: cp.first_seq,
        reason: 'checkpoint-forged',
        detail: `checkpoint chain broken: ${problem}`,
        at,
      });
    out.bySeq.set(cp.last_seq, cp);
    prevCp = cp;
  });
  return out;
}
