/**
 * Verification against an anchor: checkpoints the writer also sent somewhere it cannot rewrite. Every anchored
 * checkpoint must be in the log's checkpoints file, byte for byte (by hash), and the records must reach its
 * `last_seq` and hash to its `head_hash` there (the record walk in verify.ts checks that part). A log cut back
 * below its latest anchored checkpoint, or whose checkpoints file was replaced by a re-signed one, fails.
 */
import type { KeyObject } from 'node:crypto';
import { checkpointHash, verifyCheckpointSignature } from './checkpoints.js';
import type { Checkpoint } from './types.js';
import type { VerifyProblem } from './verify-report.js';

/** One checkpoint read back from an anchor, with where it was found (`anchor.ndjson:LINE`). */
export interface AnchorEntry {
  checkpoint: Checkpoint;
  at: string;
}

export interface AnchorRead {
  /** What was read, for messages: a path or a URL. */
  source: string;
  entries: AnchorEntry[];
  /** Lines that are not checkpoints (other lines of an operational log, a torn final line). */
  skipped: number;
}

/**
 * Reads back what an anchor holds. The file anchor and the operational log have one (audit/anchor.ts); an
 * anchor kept by another party (an HTTP endpoint) is read by exporting what it holds to a file first.
 */
export interface AnchorReader {
  readonly name: string;
  read(): Promise<AnchorRead>;
}

export interface AnchorComparison {
  problems: VerifyProblem[];
  warnings: string[];
  /** Anchored checkpoints with a valid signature, by `last_seq`: the record walk checks its hashes against them. */
  witnessed: Map<number, Checkpoint>;
  /** The anchored checkpoint with the highest `last_seq`, if any. */
  latest: Checkpoint | null;
}

/**
 * Compares the anchored checkpoints with the log's own. `fingerprints` are the keys verify trusts.
 * @example const { problems, witnessed } = compareWithAnchor(await reader.read(), file.checkpoints, fingerprints);
 */
export function compareWithAnchor(
  anchor: AnchorRead,
  local: Checkpoint[],
  fingerprints: Map<string, KeyObject>,
): AnchorComparison {
  const out: AnchorComparison = { problems: [], warnings: [], witnessed: new Map(), latest: null };
  const localByLast = new Map(local.map((cp) => [cp.last_seq, cp]));
  const lastLocal = local.at(-1) ?? null;
  const seen = new Set<string>();
  for (const { checkpoint: a, at } of anchor.entries) {
    const hash = checkpointHash(a);
    if (seen.has(hash)) continue; // re-sent after a restart: the same checkpoint twice
    seen.add(hash);
    const key = fingerprints.get(a.key_fingerprint);
    if (!key || !verifyCheckpointSignature(a, key)) {
      out.problems.push({
        seq: a.first_seq,
        reason: 'checkpoint-forged',
        detail: key
          ? 'an anchored checkpoint does not verify'
          : `an anchored checkpoint is signed by unknown key ${a.key_fingerprint}`,
        at,
      });
      continue;
    }
    out.witnessed.set(a.last_seq, a);
    if (!out.latest || a.last_seq > out.latest.last_seq) out.latest = a;
    const mine = localByLast.get(a.last_seq);
    if (mine && checkpointHash(mine) === hash) continue;
    const range = `seqs ${a.first_seq}..${a.last_seq}`;
    if (mine)
      out.problems.push({
        seq: a.first_seq,
        reason: 'checkpoint-diverged',
        detail: `checkpoints.ndjson holds another checkpoint for ${range} than the anchor: the checkpoints were re-signed or replaced`,
        at,
      });
    else if (!lastLocal || a.last_seq > lastLocal.last_seq)
      out.problems.push({
        seq: (lastLocal?.last_seq ?? 0) + 1,
        reason: 'checkpoint-missing',
        detail: `the anchor holds a checkpoint for ${range} but checkpoints.ndjson ${lastLocal ? `ends at seq ${lastLocal.last_seq}` : 'holds none'}: checkpoints were cut from the end`,
        at,
      });
    else
      out.problems.push({
        seq: a.first_seq,
        reason: 'checkpoint-diverged',
        detail: `the anchor holds a checkpoint for ${range} that checkpoints.ndjson lacks: the checkpoints were replaced`,
        at,
      });
  }
  if (anchor.entries.length === 0) out.warnings.push(`the anchor ${anchor.source} holds no checkpoint`);
  const unanchored = out.latest ? local.filter((cp) => cp.last_seq > (out.latest?.last_seq ?? 0)) : [];
  if (unanchored.length)
    out.warnings.push(
      `${unanchored.length} checkpoints after seq ${out.latest?.last_seq ?? 0} are not in the anchor yet (up to seq ${unanchored[unanchored.length - 1].last_seq}): the anchor lags, or publishing to it fails`,
    );
  return out;
}
