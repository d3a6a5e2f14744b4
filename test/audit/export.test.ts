import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { ChainLog } from '../../audit/chain-log.js';
import { recordHash } from '../../audit/canonical.js';
import { verifyCheckpointSignature } from '../../audit/checkpoints.js';
import { CSV_COLUMNS, csvRow, escapeFormula, exportLog, type ExportFilter } from '../../audit/export.js';
import { loadPublicKey } from '../../audit/keys.js';
import type { StoredDecision } from '../../audit/types.js';
import { decision, tempDir, writeLog, quiet } from './helpers.js';

async function run(dir: string, format: 'jsonl' | 'csv', filter: ExportFilter = {}) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const manifest = await exportLog({ dir, format, filter, out });
  return { manifest, text: Buffer.concat(chunks).toString('utf8') };
}

const ids = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as StoredDecision).seq);

/** A small RFC 4180 reader, enough to check what the CSV writer produced. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  const endRow = () => {
    row.push(cell);
    rows.push(row);
    row = [];
    cell = '';
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n') endRow();
    else if (c !== '\r') cell += c;
  }
  if (cell || row.length) endRow();
  return rows;
}

describe('audit export', async () => {
  it('filters by seq, time, tenant, action, rule, category, revision and decision id', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 12);
    assert.deepEqual(ids((await run(dir, 'jsonl', { fromSeq: 3, toSeq: 5 })).text), [3, 4, 5]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { since: '2026-01-01T00:00:10Z' })).text), [10, 11, 12]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { until: '2026-01-01T00:00:02Z' })).text), [1, 2]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { tenant: 'acme', toSeq: 6 })).text), [1, 3, 5]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { action: 'refuse' })).text), [3, 6, 9, 12]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { rule: 'deny-violence', tenant: 'globex' })).text), [6, 12]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { category: 'violence', toSeq: 4 })).text), [3]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { revision: 'rev-a' })).text), [1, 2, 3, 4]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { decisionId: 'dec-7' })).text), [7]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { tenant: 'nobody' })).text), []);
  });

  it('matches rule ids in shadow rules too, and categories by taxonomy category or label', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir });
    const shadow = {
      id: 'shadow-jailbreak',
      action: 'refuse' as const,
      reason: 'jailbreak 0.7 >= 0.6',
      category: 'jailbreak',
    };
    const enforced = {
      id: 'deny-s1',
      action: 'refuse' as const,
      reason: 'violence',
      label: 'violence',
      category: 'S1',
    };
    const base = decision(1);
    await log.append({ ...base, stages: { input: { ...base.stages.input!, rules: [], shadow_rules: [shadow] } } });
    await log.append({ ...decision(2), stages: { input: { ...base.stages.input!, rules: [enforced] } } });
    await log.close();
    assert.deepEqual(ids((await run(dir, 'jsonl', { rule: 'shadow-jailbreak' })).text), [1]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { category: 'S1' })).text), [2]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { category: 'violence' })).text), [2]);
    assert.deepEqual(ids((await run(dir, 'jsonl', { category: 'jailbreak' })).text), []);
  });

  it('exports stored lines that still match their hashes', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 3);
    for (const line of (await run(dir, 'jsonl')).text.trim().split('\n')) {
      const rec = JSON.parse(line) as StoredDecision;
      assert.equal(recordHash(rec), rec.hash);
    }
  });

  it('writes a manifest with the count, seq range, sha256 of the bytes and the covering signed checkpoint', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir, checkpointEvery: 4, groupWindowMs: 0 });
    for (let i = 1; i <= 10; i++) {
      await log.append(decision(i));
      if (i % 4 === 0) await log.checkpoint();
    }
    await log.close();
    const { manifest, text } = await run(dir, 'jsonl', { fromSeq: 2, toSeq: 6 });
    assert.equal(manifest.count, 5);
    assert.deepEqual([manifest.first_seq, manifest.last_seq], [2, 6]);
    assert.equal(manifest.sha256, createHash('sha256').update(text).digest('hex'));
    assert.equal(manifest.bytes, Buffer.byteLength(text));
    const cp = manifest.covering_checkpoint!;
    assert.deepEqual([cp.first_seq, cp.last_seq], [5, 8]);
    assert.equal(verifyCheckpointSignature(cp, await loadPublicKey(join(dir, 'checkpoint-key.pub.pem'))), true);
  });

  it('escapes cells that a spreadsheet would run as formulas', () => {
    for (const bad of ['=1+1', '+SUM(A1)', '-2+3', '@cmd', '\t=x', '\r=x']) assert.equal(escapeFormula(bad), `'${bad}`);
    for (const ok of ['plain', 'a=b', '', "'quoted"]) assert.equal(escapeFormula(ok), ok);
  });

  it('builds CSV rows of strings in column order, with hostile values escaped', () => {
    const rec = {
      ...decision(3, { tenant: '=HYPERLINK("http://evil","x")', decision_id: 'a,"b"\nc' }),
      kind: 'decision',
      seq: 3,
      prev_hash: 'p',
      hash: 'h',
      masked_paths: ['$.content.prompt'],
    } as StoredDecision;
    const row = csvRow(rec);
    assert.equal(row.length, CSV_COLUMNS.length);
    const cell = (name: (typeof CSV_COLUMNS)[number]) => row[CSV_COLUMNS.indexOf(name)];
    assert.equal(cell('tenant'), `'=HYPERLINK("http://evil","x")`);
    assert.equal(cell('decision_id'), 'a,"b"\nc');
    assert.equal(cell('rules'), 'deny-violence');
    assert.equal(cell('categories'), 'violence');
    assert.equal(cell('stream'), 'false');
  });

  it('writes CSV through csv-stringify that survives commas, quotes, newlines and formulas', async (t) => {
    const dir = await tempDir(t);
    const log = await ChainLog.open({ ...quiet, dir });
    const hostile = ['=cmd|" /C calc"!A0', 'a,b', 'say "hi"', 'line1\nline2', '@SUM(1)', '-1', '+1'];
    for (const [i, tenant] of hostile.entries()) await log.append(decision(i + 1, { tenant }));
    await log.close();
    const { text, manifest } = await run(dir, 'csv');
    const rows = parseCsv(text);
    assert.deepEqual(rows[0], [...CSV_COLUMNS]);
    assert.equal(rows.length, hostile.length + 1);
    const tenants = rows.slice(1).map((r) => r[CSV_COLUMNS.indexOf('tenant')]);
    assert.deepEqual(tenants, hostile.map(escapeFormula));
    assert.equal(manifest.sha256, createHash('sha256').update(text).digest('hex'));
  });
});

describe('export query (shared by the CLI and the admin endpoint)', async () => {
  const { parseExportQuery } = await import('../../audit/export-query.js');
  it('maps query strings to a format and filter, seq or time bounds alike', () => {
    assert.deepEqual(
      parseExportQuery({ format: 'csv', from: '10', to: '2026-01-02T00:00:00Z', tenant: 'acme', decision_id: 'd' }),
      {
        ok: true,
        format: 'csv',
        filter: { fromSeq: 10, until: '2026-01-02T00:00:00.000Z', tenant: 'acme', decisionId: 'd' },
      },
    );
    assert.deepEqual(parseExportQuery({}), { ok: true, format: 'jsonl', filter: {} });
  });
  it('rejects unknown formats, actions and unparseable bounds with the field named', () => {
    for (const [q, field] of [
      [{ format: 'xml' }, 'format'],
      [{ action: 'nuke' }, 'action'],
      [{ from: 'soon' }, 'from'],
    ] as const) {
      const r = parseExportQuery(q);
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.error : '', new RegExp(field));
    }
  });
});
