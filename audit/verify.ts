/**
 * Independent verification from the files and a public key alone: recompute every hash, walk the chain across
 * segments, check every checkpoint signature and that checkpoints agree with the records, and check that a
 * log starting after seq 1 is explained by a retention marker. Memory stays flat: one record plus one of
 * lookahead, and a map of checkpoints.
 */
import { GENESIS_HASH } from './canonical.js';
import { compareWithAnchor } from './anchor-check.js';
import { TailClock, unsignedTailProblem } from './coverage.js';
import { keyFingerprint } from './keys.js';
import { listSegments } from './segments.js';
import type { StoredRecord } from './types.js';
import { checkCheckpointFile } from './verify-checkpoints.js';
import { segmentItems, type Item } from './verify-items.js';
import type { VerifyOptions, VerifyProblem, VerifyReport } from './verify-report.js';

export * from './verify-report.js';

/**
 * Verifies a log directory. Throws RecordVersionError at the first intact line (or checkpoint) of a format
 * version this code does not read.
 * @example
 * const report = await verifyLog({ dir, publicKeys: [await loadPublicKey('audit.pub.pem')] });
 * if (!report.ok) console.error(report.first_bad);
 */
export async function verifyLog(opts: VerifyOptions): Promise<VerifyReport> {
  const { dir, publicKeys, from = 1, to = Number.MAX_SAFE_INTEGER, maxProblems = 1000 } = opts;
  if (publicKeys.length === 0) throw new Error('verifyLog needs at least one public key');
  const problems: VerifyProblem[] = [];
  const warnings: string[] = [];
  const report = (p: VerifyProblem): VerifyProblem | null => {
    if (p.seq < from || p.seq > to || problems.length >= maxProblems) return null;
    problems.push(p);
    return p;
  };
  // Seqs reported missing, so that records turning up later re-label the gap as reordered instead.
  const gaps: Array<{ first: number; last: number; problem: VerifyProblem; found: Set<number> }> = [];

  // Checkpoints first: signatures, their own chain, and an index by last_seq for the record walk.
  const fingerprints = new Map(publicKeys.map((k) => [keyFingerprint(k), k]));
  const file = opts.source
    ? await opts.source.checkpoints(fingerprints, from)
    : await checkCheckpointFile(dir, fingerprints, from);
  for (const p of file.problems) report(p);
  warnings.push(...file.warnings);
  const { bySeq } = file;
  const lastCp = file.checkpoints.at(-1) ?? null;
  const anchored = opts.anchor ? compareWithAnchor(await opts.anchor.read(), file.checkpoints, fingerprints) : null;
  const anchorSource = opts.anchor?.name ?? '';
  const tailClock = new TailClock(); // the record times of the records no checkpoint covers

  // Records: start at the segment holding seq from-1, so the link into the range is checked too.
  const all = opts.source ? [] : await listSegments(dir);
  let startIdx = 0;
  for (let i = 0; i < all.length; i++) if (all[i].firstSeq <= Math.max(1, from - 1)) startIdx = i;
  const segments = all.slice(startIdx);
  const sourced = opts.source ? await opts.source.records(from) : null;
  if (sourced && !sourced.fromStart) startIdx = 1;
  const retentions = new Map<number, { last_hash: string; at: string }>();
  let expect: number | null = null;
  let prevHash: string | null = null;
  let anchor: { seq: number; prev_hash: string; at: string } | null = null;
  let count = 0;
  let first: number | null = null;
  let head: { seq: number; hash: string } | null = null;
  let lastRead = 0; // the highest seq accepted, in range or not

  const it = sourced?.items ?? segmentItems(segments);
  const buffer: Item[] = [];
  const next = async (): Promise<Item | undefined> => buffer.shift() ?? (await it.next()).value ?? undefined;
  const peek = async (): Promise<Item | undefined> => {
    if (!buffer.length) {
      const r = await it.next();
      if (r.done) return undefined;
      buffer.push(r.value);
    }
    return buffer[0];
  };

  // A record is compared with its checkpoint once the next line confirms it belongs to the chain, so that a
  // forged duplicate that is then displaced by the genuine record is reported once, as an insertion.
  let unconfirmed: { rec: StoredRecord; at: string } | null = null;
  const confirm = (): void => {
    if (!unconfirmed) return;
    const { rec, at } = unconfirmed;
    unconfirmed = null;
    const cp = bySeq.get(rec.seq);
    if (cp && cp.head_hash !== rec.hash) {
      report({
        seq: cp.first_seq,
        reason: 'record-changed',
        detail: `records ${cp.first_seq}..${cp.last_seq} were rewritten: hash at seq ${cp.last_seq} differs from the signed checkpoint`,
        at,
      });
    } else {
      const a = anchored?.witnessed.get(rec.seq);
      if (a && a.head_hash !== rec.hash)
        report({
          seq: a.first_seq,
          reason: 'record-changed',
          detail: `records ${a.first_seq}..${a.last_seq} were rewritten: hash at seq ${a.last_seq} differs from the checkpoint anchored in ${anchorSource}`,
          at,
        });
    }
  };
  const accept = (rec: StoredRecord, at: string): void => {
    confirm();
    unconfirmed = { rec, at };
    expect = rec.seq + 1;
    prevHash = rec.hash;
    lastRead = Math.max(lastRead, rec.seq);
    if (rec.seq > (lastCp?.last_seq ?? 0)) tailClock.see(rec.time);
    // Seq to+1 is read only to confirm that seq `to` was not rewritten; it is not part of the report.
    if (rec.seq >= from && rec.seq <= to) {
      count++;
      first ??= rec.seq;
      head = { seq: rec.seq, hash: rec.hash };
    }
    if (rec.kind === 'retention') retentions.set(rec.deleted.last_seq, { last_hash: rec.deleted.last_hash, at });
  };

  for (let item = await next(); item; item = await next()) {
    const { rec, hashOk, at } = item;
    if (rec && rec.seq > to + 1) break;
    if (!item.terminated && item.last && !(await peek())) {
      warnings.push(
        `${at} is a torn final line (a crash mid-write, or a write in progress); the gateway truncates it on start`,
      );
      break;
    }
    if (expect === null) {
      // The first record read: anchored on genesis, on a retention marker (checked at the end), or on --from.
      if (!rec || !hashOk) {
        report({
          seq: rec?.seq ?? from,
          reason: 'record-changed',
          detail: rec ? 'content does not match its hash' : 'unreadable line',
          at,
        });
        if (rec) expect = rec.seq + 1;
        continue;
      }
      if (rec.seq === 1 && rec.prev_hash !== GENESIS_HASH)
        report({ seq: 1, reason: 'record-changed', detail: 'seq 1 does not start from the genesis hash', at });
      else if (rec.seq > 1 && startIdx === 0) anchor = { seq: rec.seq, prev_hash: rec.prev_hash, at };
      accept(rec, at);
      continue;
    }
    const want: number = expect;
    const ahead = await peek();
    const aheadSeq = ahead?.rec?.seq;
    if (!rec || rec.seq === want) {
      if (rec !== null && hashOk && (prevHash === null || rec.prev_hash === prevHash)) {
        accept(rec, at);
        continue;
      }
      if (aheadSeq === want) {
        report({
          seq: want,
          reason: 'record-inserted',
          detail: `an extra record sits where seq ${want} belongs; the next line is the real seq ${want}`,
          at,
        });
        continue; // drop the intruder, keep expecting `want`
      }
      if (!rec || !hashOk) {
        report({
          seq: want,
          reason: 'record-changed',
          detail: rec ? 'content does not match its hash' : 'unreadable line',
          at,
        });
        expect = want + 1;
        prevHash = null; // unknown: do not blame the next record for this one
        continue;
      }
      report({
        seq: want - 1,
        reason: 'record-changed',
        detail: `seq ${want - 1} was rewritten: its hash is not the prev_hash of seq ${want}`,
        at,
      });
      accept(rec, at);
    } else if (rec.seq > want) {
      if (ahead?.rec && aheadSeq === want && rec.prev_hash === ahead.rec.hash) {
        report({ seq: want, reason: 'record-reordered', detail: `seq ${rec.seq} appears before seq ${want}`, at });
        buffer[0] = item; // process the displaced record right after the one that belongs here
        buffer.unshift(ahead);
        continue;
      }
      if (aheadSeq === want) {
        report({
          seq: want,
          reason: 'record-inserted',
          detail: `a record claiming seq ${rec.seq} sits where seq ${want} belongs`,
          at,
        });
        continue;
      }
      const problem = report({
        seq: want,
        reason: 'record-missing',
        detail: rec.seq - want === 1 ? `seq ${want} is missing` : `seqs ${want}..${rec.seq - 1} are missing`,
        at,
      });
      if (problem) gaps.push({ first: want, last: rec.seq - 1, problem, found: new Set() });
      if (hashOk) accept(rec, at);
      else {
        report({ seq: rec.seq, reason: 'record-changed', detail: 'content does not match its hash', at });
        expect = rec.seq + 1;
        prevHash = null;
      }
    } else if (rec.seq === want - 1 && hashOk && ahead?.rec?.prev_hash === rec.hash && rec.prev_hash !== prevHash) {
      // Two records claim the same seq and the later one is what the chain continues from: the earlier was forged.
      report({
        seq: rec.seq,
        reason: 'record-inserted',
        detail: `two records claim seq ${rec.seq}; the earlier one is not in the chain`,
        at,
      });
      if (rec.seq >= from && rec.seq <= to) count--;
      unconfirmed = null;
      accept(rec, at);
    } else {
      const gap = hashOk
        ? gaps.find((g) => g.first <= rec.seq && rec.seq <= g.last && !g.found.has(rec.seq))
        : undefined;
      if (gap) {
        gap.found.add(rec.seq);
        gap.problem.reason = 'record-reordered';
        gap.problem.detail = `seqs ${gap.first}..${gap.last} are out of order (found later: ${[...gap.found].sort((a, b) => a - b).join(', ')})`;
      } else {
        report({
          seq: want,
          reason: 'record-inserted',
          detail: `a record claiming seq ${rec.seq} appears where seq ${want} belongs`,
          at,
        });
      }
    }
  }
  for (const g of gaps) {
    const size = g.last - g.first + 1;
    if (g.found.size && g.found.size < size) {
      const lost = Array.from({ length: size }, (_, i) => g.first + i).filter((n) => !g.found.has(n));
      report({ seq: lost[0], reason: 'record-missing', detail: `seqs ${lost.join(', ')} are missing` });
    }
  }

  confirm();
  if (anchor !== null) {
    const a: { seq: number; prev_hash: string; at: string } = anchor;
    const marker = retentions.get(a.seq - 1);
    if (!marker)
      report({
        seq: 1,
        reason: 'record-missing',
        detail: `the log starts at seq ${a.seq} and no retention marker records deleting 1..${a.seq - 1}`,
        at: a.at,
      });
    else if (marker.last_hash !== a.prev_hash)
      report({
        seq: a.seq - 1,
        reason: 'record-changed',
        detail: `seq ${a.seq} does not link to the last deleted record named by the retention marker`,
        at: a.at,
      });
  }
  const h = head as { seq: number; hash: string } | null;
  const lastSeq = lastRead;
  if (lastCp && lastCp.last_seq > lastSeq && to >= lastCp.last_seq) {
    report({
      seq: lastSeq + 1,
      reason: 'record-missing',
      detail: `a signed checkpoint covers up to seq ${lastCp.last_seq} but the log ends at seq ${lastSeq}`,
    });
  }
  const latestAnchored = anchored?.latest ?? null;
  if (latestAnchored && latestAnchored.last_seq > lastSeq && to >= latestAnchored.last_seq)
    report({
      seq: lastSeq + 1,
      reason: 'record-missing',
      detail: `the log ends at seq ${lastSeq} but a checkpoint anchored in ${anchorSource} covers up to seq ${latestAnchored.last_seq}: records were cut from the end`,
    });
  for (const p of anchored?.problems ?? []) report(p);
  warnings.push(...(anchored?.warnings ?? []));
  const covered = lastCp?.last_seq ?? 0;
  if (h && covered < h.seq && to >= h.seq) {
    const tail = { firstSeq: covered + 1, lastSeq: h.seq, earliest: tailClock.earliest, latest: tailClock.latest };
    const problem = unsignedTailProblem(tail, lastCp, opts.schedule);
    if (problem) report({ seq: Math.max(covered + 1, from), reason: 'records-unsigned', detail: problem });
    else warnings.push(`seqs ${covered + 1}..${h.seq} are not yet covered by a signed checkpoint`);
  }
  problems.sort((a, b) => a.seq - b.seq);
  return {
    ok: problems.length === 0,
    records: count,
    first_seq: first,
    last_seq: h?.seq ?? null,
    head_hash: h?.hash ?? null,
    checkpoints: { total: file.checkpoints.length, last_covered_seq: lastCp?.last_seq ?? null },
    first_bad: problems[0] ?? null,
    problems,
    warnings,
    ...(anchored
      ? {
          anchor: {
            source: anchorSource,
            checkpoints: anchored.witnessed.size,
            last_anchored_seq: latestAnchored?.last_seq ?? null,
          },
        }
      : {}),
  };
}
