import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { EXIT, main } from '../../audit/cli.js';
import { segmentLines, tempDir, writeLines, writeLog, quiet } from './helpers.js';

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}, cwd?: string) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c));
  stderr.on('data', (c: Buffer) => (err += c));
  const code = await main(argv, { stdout, stderr, env, cwd });
  return { code, out, err };
}

describe('audit CLI', () => {
  it('verify exits 0 on an intact log and 1 with the first bad seq when tampered', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 6);
    const pub = join(dir, 'checkpoint-key.pub.pem');
    const ok = await cli(['verify', '--dir', dir, '--pubkey', pub]);
    assert.equal(ok.code, EXIT.ok);
    assert.match(ok.out, /^OK: 6 records/);
    const { path, lines } = await segmentLines(dir);
    lines.splice(2, 1);
    await writeLines(path, lines);
    const bad = await cli(['verify', '--dir', dir, '--pubkey', pub, '--json']);
    assert.equal(bad.code, EXIT.tampered);
    const report = JSON.parse(bad.out) as { first_bad: { seq: number; reason: string } };
    assert.deepEqual(report.first_bad.seq, 3);
    assert.deepEqual(report.first_bad.reason, 'record-missing');
  });

  it('verify warns when the public key comes from the log directory, and honours GATEWAY_AUDIT_DIR', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 2);
    const r = await cli(['verify'], { GATEWAY_AUDIT_DIR: dir });
    assert.equal(r.code, EXIT.ok);
    assert.match(r.err, /public key taken from the log directory/);
  });

  it('verify, export and tail read .data/audit (where the gateway writes) when neither --dir nor GATEWAY_AUDIT_DIR says otherwise', async (t) => {
    const cwd = await tempDir(t);
    await writeLog(join(cwd, '.data', 'audit'), 3);
    const verified = await cli(['verify'], {}, cwd);
    assert.equal(verified.code, EXIT.ok, verified.err);
    assert.match(verified.out, /^OK: 3 records/);
    const exported = await cli(['export', '--format', 'jsonl'], {}, cwd);
    assert.equal(exported.code, EXIT.ok, exported.err);
    assert.equal(exported.out.trim().split('\n').length, 3);
    const tailed = await cli(['tail', '-n', '2'], {}, cwd);
    assert.equal(tailed.code, EXIT.ok, tailed.err);
    assert.equal(tailed.out.trim().split('\n').length, 2);
  });

  it('prints the usage, which names every export format, for --help on any command', async () => {
    for (const argv of [['--help'], ['verify', '--help'], ['export', '-h'], ['tail', '--help']]) {
      const r = await cli(argv);
      assert.equal(r.code, EXIT.ok, argv.join(' '));
      assert.match(r.out, /--format jsonl\|csv\|rbrm/);
      assert.match(r.out, /--dir defaults to \$GATEWAY_AUDIT_DIR, then to \.data\/audit/);
    }
  });

  it('exits 2 on usage and I/O errors', async (t) => {
    assert.equal((await cli([])).code, EXIT.usage);
    assert.equal((await cli(['frobnicate'])).code, EXIT.usage);
    const empty = await tempDir(t);
    const noLog = await cli(['verify'], {}, empty);
    assert.equal(noLog.code, EXIT.usage, 'no --dir, no GATEWAY_AUDIT_DIR and no .data/audit here');
    assert.match(noLog.err, /no decision log in \.data\/audit here: pass --dir or set GATEWAY_AUDIT_DIR/);
    assert.equal((await cli(['verify', '--dir', join(await tempDir(t), 'nope')])).code, EXIT.usage);
    assert.equal((await cli(['export', '--dir', '/tmp', '--format', 'xml'])).code, EXIT.usage);
    assert.equal(
      (await cli(['export', '--dir', '/tmp', '--format', 'jsonl', '--from', 'yesterday-ish'])).code,
      EXIT.usage,
    );
    assert.equal((await cli(['verify', '--dir', '/tmp', '--bogus'])).code, EXIT.usage);
  });

  it('export --out writes the file and a manifest whose sha256 matches it', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 8);
    const out = join(dir, 'export.jsonl');
    const r = await cli(['export', '--dir', dir, '--format', 'jsonl', '--tenant', 'acme', '--from', '2', '--out', out]);
    assert.equal(r.code, EXIT.ok, r.err);
    const manifest = JSON.parse(await readFile(`${out}.manifest.json`, 'utf8')) as {
      count: number;
      sha256: string;
      first_seq: number;
    };
    assert.deepEqual([manifest.count, manifest.first_seq], [3, 3]);
    assert.equal(
      manifest.sha256,
      createHash('sha256')
        .update(await readFile(out))
        .digest('hex'),
    );
    // Refuses to overwrite an earlier export.
    assert.equal((await cli(['export', '--dir', dir, '--format', 'jsonl', '--out', out])).code, EXIT.usage);
  });

  it('export accepts ISO times for --from and --to', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    const out = join(dir, 'e.jsonl');
    await cli([
      'export',
      '--dir',
      dir,
      '--format',
      'jsonl',
      '--from',
      '2026-01-01T00:00:02Z',
      '--to',
      '2026-01-01T00:00:03Z',
      '--out',
      out,
    ]);
    const seqs = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { seq: number }).seq);
    assert.deepEqual(seqs, [2, 3]);
  });

  it('tail prints the last n records', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    const r = await cli(['tail', '--dir', dir, '-n', '2']);
    assert.deepEqual(
      r.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
      [4, 5],
    );
  });

  it('tail --follow picks up records appended later, across a rotation', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 2);
    const { tailLog } = await import('../../audit/tail.js');
    const { ChainLog } = await import('../../audit/chain-log.js');
    const { decision } = await import('./helpers.js');
    const ac = new AbortController();
    const seen: number[] = [];
    const following = (async () => {
      for await (const rec of tailLog(dir, { lines: 0, follow: true, pollMs: 20, signal: ac.signal })) {
        seen.push(rec.seq);
        if (seen.length === 6) ac.abort();
      }
    })();
    const log = await ChainLog.open({ ...quiet, dir, segmentMaxBytes: 2500, groupWindowMs: 0 });
    for (let i = 3; i <= 8; i++) await log.append(decision(i));
    await log.close();
    await following;
    assert.deepEqual(seen, [3, 4, 5, 6, 7, 8]);
  });
});
