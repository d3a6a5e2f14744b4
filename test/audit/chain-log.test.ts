import assert from 'node:assert/strict';
import { appendFile, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ChainLog, type AuditEvent } from '../../audit/chain-log.js';
import { GENESIS_HASH } from '../../audit/canonical.js';
import { signCheckpoint } from '../../audit/checkpoints.js';
import { loadOrCreateSigningKey } from '../../audit/keys.js';
import type { StoredRecord } from '../../audit/types.js';
import { decision, segmentLines, tempDir, verifyDir, writeLog, quiet } from './helpers.js';

const parse = (l: string) => JSON.parse(l) as StoredRecord;

describe('ChainLog', () => {
  it('chains records with seq, prev_hash and hash from genesis', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 3);
    const recs = (await segmentLines(dir)).lines.map(parse);
    assert.deepEqual(
      recs.map((r) => r.seq),
      [1, 2, 3],
    );
    assert.equal(recs[0].prev_hash, GENESIS_HASH);
    assert.equal(recs[1].prev_hash, recs[0].hash);
    assert.equal(recs[2].prev_hash, recs[1].hash);
  });

  for (const durability of ['group', 'fsync-per-record', 'none'] as const) {
    it(`acknowledges 300 concurrent appends, all durable and chained in call order (${durability})`, async (t) => {
      const dir = await tempDir(t);
      const log = await ChainLog.open({ ...quiet, dir, durability });
      const receipts = await Promise.all(Array.from({ length: 300 }, (_, i) => log.appendWithReceipt(decision(i + 1))));
      assert.deepEqual(
        receipts.map((r) => r.seq),
        Array.from({ length: 300 }, (_, i) => i + 1),
      );
      // Durable before close: the bytes are on disk already.
      const recs = (await segmentLines(dir)).lines.map(parse);
      assert.equal(recs.length, 300);
      assert.deepEqual(
        recs.map((r) => (r.kind === 'decision' ? r.decision_id : '')),
        Array.from({ length: 300 }, (_, i) => `dec-${i + 1}`),
      );
      await log.close();
      assert.equal((await verifyDir(dir)).ok, true);
    });
  }

  it('groups concurrent appends into far fewer flushes than records', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir, groupWindowMs: 2 });
    const settled: number[] = [];
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => log.append(decision(i)).then(() => settled.push(performance.now()))),
    );
    await log.close();
    // Records settled by the same flush share a tick: count distinct settle times (generous bound).
    const distinct = new Set(settled.map((x) => Math.round(x))).size;
    assert.ok(distinct < 20, `expected few flushes, saw ${distinct} distinct settle times`);
  });

  it('masks configured paths before storage and lists them in masked_paths', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 1, {
      masks: ['$.content.prompt', '$.stages.input.classifiers[*].details', "$['missing'].path"],
    });
    const [rec] = (await segmentLines(dir)).lines.map(parse);
    assert.equal(rec.kind, 'decision');
    if (rec.kind !== 'decision') return;
    assert.equal(rec.content.prompt, '[masked]');
    assert.equal(rec.stages.input?.classifiers[0].details, '[masked]');
    assert.deepEqual(rec.masked_paths, ['$.content.prompt', '$.stages.input.classifiers[0].details']);
  });

  it('never stores Authorization headers, API keys or bearer tokens, whatever the masks say', async (t) => {
    const dir = await tempDir(t);
    const leaky = {
      ...decision(1),
      headers: { Authorization: 'Bearer sk-live-123', 'x-api-key': 'k' },
      content: { mode: 'full' as const, prompt: 'my key is sk-abcdefghijklmnopqrstuvwx ok' },
    };
    await writeLog(dir, 0);
    const log = await ChainLog.open({ ...quiet, dir });
    await log.append(leaky);
    await log.close();
    const text = await readFile((await segmentLines(dir)).path, 'utf8');
    assert.doesNotMatch(text, /sk-live|sk-abcdef|Bearer/);
    const rec = parse(text.trim());
    assert.ok(
      rec.kind === 'decision' &&
        rec.masked_paths.includes('$.headers.Authorization') &&
        rec.masked_paths.includes("$.headers['x-api-key']"),
    );
  });

  it('rejects an invalid mask path at construction', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(ChainLog.open({ ...quiet, dir, masks: ['content.prompt'] }), /mask path must start with "\$"/);
    await assert.rejects(ChainLog.open({ ...quiet, dir, masks: ['$.a[(@.length-1)]'] }), /unsupported selector/);
  });

  it('continues the chain after a restart', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    const log = await ChainLog.open({ ...quiet, dir });
    assert.equal(log.startup.head.seq, 5);
    assert.equal((await log.appendWithReceipt(decision(6))).seq, 6);
    await log.close();
    assert.equal((await verifyDir(dir)).records, 6);
  });

  it('truncates a torn final line on start, reports it, records the repair and continues the chain', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    const { path } = await segmentLines(dir);
    const goodSize = (await stat(path)).size;
    const torn = '{"action":"allow","content":{"mo';
    await appendFile(path, torn);
    const events: AuditEvent[] = [];
    const log = await ChainLog.open({ ...quiet, dir, onEvent: (e) => events.push(e) });
    assert.deepEqual(log.startup.repaired, {
      segment: 'segment-0000000000000001.ndjson',
      truncated_at: goodSize,
      truncated_bytes: torn.length,
    });
    assert.ok(events.some((e) => e.type === 'repaired'));
    await log.append(decision(7));
    await log.close();
    const recs = (await segmentLines(dir)).lines.map(parse);
    assert.deepEqual(recs.map((r) => `${r.seq}:${r.kind}`).slice(4), ['5:decision', '6:repair', '7:decision']);
    assert.equal((await verifyDir(dir)).ok, true);
  });

  it('refuses to start when a complete line in the tail is corrupt, instead of truncating evidence', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    const { path, lines } = await segmentLines(dir);
    lines[4] = lines[4].replace('prompt 5', 'prompt X');
    await writeFile(path, lines.map((l) => `${l}\n`).join(''));
    await assert.rejects(ChainLog.open({ ...quiet, dir }), { name: 'AuditTailError' });
  });

  it('refuses to start when signed records are missing from the end of the log', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    const { path, lines } = await segmentLines(dir);
    await writeFile(
      path,
      lines
        .slice(0, 3)
        .map((l) => `${l}\n`)
        .join(''),
    );
    await assert.rejects(ChainLog.open({ ...quiet, dir }), /signed records are missing/);
  });

  it('signs a checkpoint every N records that chains to the previous one', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir, checkpointEvery: 10, groupWindowMs: 0 });
    for (let i = 1; i <= 25; i++) await log.append(decision(i));
    await log.close();
    const cps = (await readFile(join(dir, 'checkpoints.ndjson'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { first_seq: number; last_seq: number });
    assert.equal(cps[0].first_seq, 1);
    for (let i = 1; i < cps.length; i++) assert.equal(cps[i].first_seq, cps[i - 1].last_seq + 1);
    assert.equal(cps.at(-1)!.last_seq, 25);
    assert.ok(cps.length >= 3);
  });

  it('signs a checkpoint after checkpointIntervalMs even below checkpointEvery', async (t) => {
    const dir = await tempDir(t);
    const events: AuditEvent[] = [];
    const log = await ChainLog.open({
      ...quiet,
      dir,
      checkpointEvery: 1000,
      checkpointIntervalMs: 30,
      onEvent: (e) => events.push(e),
    });
    await log.append(decision(1));
    await log.append(decision(2));
    for (let i = 0; i < 50 && !events.some((e) => e.type === 'checkpoint'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const cp = events.find((e) => e.type === 'checkpoint');
    assert.ok(cp && cp.type === 'checkpoint' && cp.checkpoint.last_seq === 2);
    await log.close();
  });

  it('refuses to start when the last checkpoint does not match the records it covers', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 4);
    const file = join(dir, 'checkpoints.ndjson');
    await writeFile(
      file,
      (await readFile(file, 'utf8')).replace(
        /"head_hash":"([0-9a-f])/,
        (_m, c: string) => `"head_hash":"${c === 'f' ? 'e' : 'f'}`,
      ),
    );
    await assert.rejects(ChainLog.open({ ...quiet, dir }), /does not match the last signed checkpoint/);
  });

  it('never signs a checkpoint inconsistent with the previous one', async (t) => {
    const dir = await tempDir(t);
    const key = await loadOrCreateSigningKey(join(dir, 'k.pem'));
    const h = 'a'.repeat(64);
    const first = signCheckpoint(null, { first_seq: 1, last_seq: 10, head_hash: h }, key);
    assert.throws(() => signCheckpoint(first, { first_seq: 12, last_seq: 20, head_hash: h }, key), /does not follow/);
    assert.throws(() => signCheckpoint(first, { first_seq: 11, last_seq: 10, head_hash: h }, key), /last_seq/);
    assert.throws(() => signCheckpoint(null, { first_seq: 1, last_seq: 2, head_hash: 'nope' }, key), /head_hash/);
  });

  it('generates a key on first start with a 0600 private half and reuses it', async (t) => {
    const dir = await tempDir(t);
    const events: AuditEvent[] = [];
    const a = await ChainLog.open({ ...quiet, dir, onEvent: (e) => events.push(e) });
    await a.close();
    assert.equal((await stat(join(dir, 'checkpoint-key.pem'))).mode & 0o777, 0o600);
    const generated = events.find((e) => e.type === 'key-generated');
    assert.ok(generated && generated.type === 'key-generated' && generated.publicPem.includes('BEGIN PUBLIC KEY'));
    const b = await ChainLog.open({ ...quiet, dir });
    assert.equal(b.startup.key.generated, false);
    assert.equal(b.startup.key.fingerprint, a.startup.key.fingerprint);
    await b.close();
  });

  it('allows one writer per directory', async (t) => {
    const dir = await tempDir(t);
    const a = await ChainLog.open({ ...quiet, dir });
    await assert.rejects(ChainLog.open({ ...quiet, dir }), /already open in this process/);
    await a.close();
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: 1, hostname: hostname() }));
    await assert.rejects(ChainLog.open({ ...quiet, dir }), /held by process 1 on this host/);
  });

  it('takes over a lock left by a dead process and says so', async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: 2 ** 22 + 12345, hostname: hostname() }));
    const events: AuditEvent[] = [];
    const log = await ChainLog.open({ ...quiet, dir, onEvent: (e) => events.push(e) });
    assert.ok(events.some((e) => e.type === 'lock-taken-over'));
    await log.close();
  });

  it('rejects a record that is not an object without throwing synchronously', async (t) => {
    const log = await ChainLog.open({ ...quiet, dir: await tempDir(t) });
    await assert.rejects(log.append(null as unknown as ReturnType<typeof decision>), /must be an object/);
    await log.close();
  });

  it('rejects appends after close', async (t) => {
    const log = await ChainLog.open({ ...quiet, dir: await tempDir(t) });
    await log.close();
    await assert.rejects(log.append(decision(1)), /closed/);
  });
});
