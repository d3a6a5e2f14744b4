/**
 * `audit verify --database-url`: every replica's chain in the database, each walked by the same verifier as a
 * log directory (audit/verify.ts) over rows instead of lines, plus what only a database can get wrong:
 * a column that no longer agrees with its record's line (an UPDATE of a column alone), and a chain without a
 * registration signed by a trusted key (a chain made up with INSERTs).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type pg from 'pg';
import { recordHash } from '../canonical.js';
import { parseCheckpoint, type CheckpointFile } from '../checkpoints.js';
import { keyFingerprint } from '../keys.js';
import type { StoredRecord } from '../types.js';
import { checkCheckpoints } from '../verify-checkpoints.js';
import type { Item } from '../verify-items.js';
import { verifyLog } from '../verify.js';
import type { VerifyProblem, VerifyReport, VerifySource } from '../verify-report.js';
import { assertVersion } from '../version.js';
import { registrationProblem } from './registration.js';
import { columnMismatches, rowOf, type RecordRow } from './rows.js';

const PAGE = 1000;

export interface ChainProblem extends VerifyProblem {
  chain: string;
}

export interface DatabaseVerifyReport {
  ok: boolean;
  chains: Array<{ chain: string; report: VerifyReport }>;
  first_bad: ChainProblem | null;
  problems: ChainProblem[];
  warnings: string[];
}

export interface DatabaseVerifyOptions {
  /** Keys whose signatures are accepted; default the keys the replicas stored in `audit_keys` (with a warning). */
  publicKeys?: KeyObject[];
  /** Only this chain (default: every chain found). */
  chain?: string;
  from?: number;
  to?: number;
}

const where = (chain: string, seq: number | string): string => `audit_records[chain=${chain} seq=${seq}]`;

/** The chain's rows in seq order (by the seq column), from `from`, a page at a time. */
async function* rowItems(
  client: pg.ClientBase,
  chain: string,
  from: number,
  extra: ChainProblem[],
): AsyncGenerator<Item> {
  let after = from - 1;
  for (;;) {
    const { rows } = await client.query<RecordRow & { seq: string }>(
      `SELECT chain, seq, hash, prev_hash, kind, time, decision_id, tenant, action, policy_revision, rules, categories,
              line FROM audit_records WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT ${PAGE}`,
      [chain, after],
    );
    for (const row of rows) {
      const at = where(chain, row.seq);
      let rec: StoredRecord | null = null;
      try {
        const v = JSON.parse(row.line) as StoredRecord;
        if (typeof v === 'object' && v !== null && Number.isSafeInteger(v.seq)) rec = v;
      } catch {
        rec = null;
      }
      const hashOk = rec !== null && typeof rec.hash === 'string' && recordHash(rec) === rec.hash;
      if (rec && hashOk) {
        assertVersion(rec, at);
        const stored = { ...row, seq: Number(row.seq), time: new Date(row.time).toISOString() };
        const wrong = columnMismatches(stored, rowOf(rec, row.line));
        if (wrong.length)
          extra.push({
            chain,
            seq: rec.seq,
            reason: 'record-changed',
            detail: `the row was changed in SQL: ${wrong.join('; ')}`,
            at,
          });
      }
      yield { rec, hashOk, at, terminated: true, last: false };
    }
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1].seq);
  }
}

/** The chain's checkpoints by last_seq, checked like `checkpoints.ndjson`; a row whose columns disagree is forged. */
async function checkpointRows(
  client: pg.ClientBase,
  chain: string,
  fingerprints: Map<string, KeyObject>,
  unreadableSeq: number,
) {
  const { rows } = await client.query<{ first_seq: string; last_seq: string; line: string }>(
    'SELECT first_seq, last_seq, line FROM audit_checkpoints WHERE chain = $1 ORDER BY last_seq',
    [chain],
  );
  const file: CheckpointFile = { checkpoints: [], bad: [] };
  const places: string[] = [];
  rows.forEach((r, i) => {
    const cp = parseCheckpoint(r.line);
    const bad = typeof cp === 'string' ? cp : Number(r.last_seq) !== cp.last_seq ? 'last_seq column changed' : null;
    if (bad !== null || typeof cp === 'string') file.bad.push({ line: i + 1, reason: bad ?? 'unreadable' });
    else {
      assertVersion(cp, `audit_checkpoints[chain=${chain} last_seq=${r.last_seq}]`);
      file.checkpoints.push(cp);
      places.push(`audit_checkpoints[chain=${chain} last_seq=${r.last_seq}]`);
    }
  });
  const out = checkCheckpoints(file, fingerprints, unreadableSeq, (i) => places[i] ?? 'audit_checkpoints');
  for (const p of out.problems)
    if (p.at?.startsWith('checkpoints.ndjson:')) p.at = `audit_checkpoints[chain=${chain}] row ${p.at.split(':')[1]}`;
  return out;
}

function chainSource(client: pg.ClientBase, chain: string, extra: ChainProblem[]): VerifySource {
  return {
    checkpoints: (fingerprints, unreadableSeq) => checkpointRows(client, chain, fingerprints, unreadableSeq),
    async records(from) {
      const start = Math.max(1, from - 1);
      const { rows } = await client.query<{ first: string | null }>(
        'SELECT min(seq) AS first FROM audit_records WHERE chain = $1',
        [chain],
      );
      const first = Number(rows[0]?.first ?? 0);
      return { items: rowItems(client, chain, start, extra), fromStart: !first || first >= start };
    },
  };
}

/** The public keys the replicas registered: a convenience, not an independent check (anyone with SQL can add one). */
export async function storedPublicKeys(client: pg.ClientBase): Promise<KeyObject[]> {
  const { rows } = await client.query<{ public_pem: string }>('SELECT public_pem FROM audit_keys ORDER BY first_seen');
  return rows.map((r) => createPublicKey(r.public_pem));
}

/**
 * Verifies every chain (or one) in the database.
 * @example const report = await verifyDatabase(client, { publicKeys: [await loadPublicKey('audit.pub.pem')] });
 */
export async function verifyDatabase(
  client: pg.ClientBase,
  opts: DatabaseVerifyOptions = {},
): Promise<DatabaseVerifyReport> {
  const warnings: string[] = [];
  let publicKeys = opts.publicKeys ?? [];
  if (!publicKeys.length) {
    publicKeys = await storedPublicKeys(client);
    warnings.push(
      'public keys taken from the audit_keys table: anyone who can write the database can add one; pass --pubkey',
    );
  }
  const fingerprints = new Map(publicKeys.map((k) => [keyFingerprint(k), k]));
  const { rows: chainRows } = await client.query<{ chain: string; line: string | null }>(
    `SELECT c.chain, r.line FROM (SELECT chain FROM audit_chains UNION SELECT DISTINCT chain FROM audit_records
       UNION SELECT DISTINCT chain FROM audit_checkpoints) c LEFT JOIN audit_chains r ON r.chain = c.chain ORDER BY c.chain`,
  );
  const problems: ChainProblem[] = [];
  const chains: DatabaseVerifyReport['chains'] = [];
  for (const { chain, line } of chainRows) {
    if (opts.chain !== undefined && chain !== opts.chain) continue;
    const registration = registrationProblem(line ?? undefined, chain, fingerprints);
    if (registration)
      problems.push({
        chain,
        seq: 1,
        reason: 'record-inserted',
        detail: `${registration}: the chain was not written by a gateway`,
        at: `audit_chains[chain=${chain}]`,
      });
    const extra: ChainProblem[] = [];
    const report = publicKeys.length
      ? await verifyLog({
          dir: 'postgres',
          publicKeys,
          from: opts.from,
          to: opts.to,
          source: chainSource(client, chain, extra),
        })
      : null;
    if (!report) {
      problems.push({ chain, seq: 1, reason: 'checkpoint-forged', detail: 'no public key to verify with' });
      continue;
    }
    problems.push(...report.problems.map((p) => ({ ...p, chain })), ...extra);
    warnings.push(...report.warnings.map((w) => `chain ${chain}: ${w}`));
    chains.push({ chain, report });
  }
  problems.sort((a, b) => (a.chain === b.chain ? a.seq - b.seq : a.chain < b.chain ? -1 : 1));
  return { ok: problems.length === 0, chains, first_bad: problems[0] ?? null, problems, warnings };
}
