import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { canonicalJson, hashAndSerialise } from '../../audit/canonical.js';
import { ChainLog } from '../../audit/chain-log.js';
import { EXIT, main } from '../../audit/cli.js';
import { quiet, segmentLines, tempDir, writeLines, writeLog } from './helpers.js';

async function cli(argv: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c));
  stderr.on('data', (c: Buffer) => (err += c));
  const code = await main(argv, { stdout, stderr, env: {} });
  return { code, out, err };
}

/** Rewrites line `index` of the first segment with `change` applied, re-hashed so that the line is intact. */
async function rewrite(dir: string, index: number, change: (r: Record<string, unknown>) => void, rehash = true) {
  const { path, lines } = await segmentLines(dir);
  const rec = JSON.parse(lines[index] ?? '') as Record<string, unknown>;
  change(rec);
  lines[index] = rehash ? hashAndSerialise(rec).line : canonicalJson(rec);
  await writeLines(path, lines);
}

const SEGMENT_LINE_3 = /segment-\d{16}\.ndjson:3 \(seq 3\)/;

describe('format version of stored lines', () => {
  it('verify, export and tail refuse a line written before format version 1, naming where it is', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    await rewrite(dir, 2, (r) => delete r.v);
    const pub = join(dir, 'checkpoint-key.pub.pem');
    const verify = await cli(['verify', '--dir', dir, '--pubkey', pub]);
    assert.equal(verify.code, EXIT.tampered);
    assert.match(verify.err, SEGMENT_LINE_3);
    assert.match(verify.err, /has no format version: it was written before format version 1/);
    assert.equal(verify.err.trim().split('\n').length, 1, 'one line');
    for (const argv of [
      ['export', '--dir', dir, '--format', 'jsonl'],
      ['tail', '--dir', dir, '-n', '5'],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, EXIT.usage, argv[0]);
      assert.match(r.err, SEGMENT_LINE_3, argv[0]);
      assert.match(r.err, /written before format version 1/, argv[0]);
    }
  });

  it('refuses a line of a later format version, naming the version found', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    await rewrite(dir, 2, (r) => (r.v = 2));
    const verify = await cli(['verify', '--dir', dir, '--pubkey', join(dir, 'checkpoint-key.pub.pem')]);
    assert.equal(verify.code, EXIT.tampered);
    assert.match(verify.err, /seq 3\) has format version 2; this version of the gateway reads format version 1 only/);
    const exported = await cli(['export', '--dir', dir, '--format', 'csv']);
    assert.equal(exported.code, EXIT.usage);
    assert.match(exported.err, /has format version 2/);
  });

  it('reports a line whose version was edited without its hash as changed, not as another version', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 5);
    await rewrite(dir, 2, (r) => delete r.v, false);
    const verify = await cli(['verify', '--dir', dir, '--pubkey', join(dir, 'checkpoint-key.pub.pem')]);
    assert.equal(verify.code, EXIT.tampered);
    assert.match(verify.out, /TAMPERED: first bad seq 3: record-changed/);
  });

  it('refuses a checkpoint of another format version', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 3);
    const file = join(dir, 'checkpoints.ndjson');
    const cp = JSON.parse((await readFile(file, 'utf8')).split('\n')[0] ?? '') as Record<string, unknown>;
    delete cp.v;
    await writeFile(file, `${canonicalJson(cp)}\n`);
    const verify = await cli(['verify', '--dir', dir, '--pubkey', join(dir, 'checkpoint-key.pub.pem')]);
    assert.equal(verify.code, EXIT.tampered);
    assert.match(verify.err, /checkpoints\.ndjson:1 has no format version/);
  });

  it('does not start appending after a line of another format version', async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 3);
    await rewrite(dir, 2, (r) => delete r.v);
    await assert.rejects(ChainLog.open({ dir, ...quiet }), /written before format version 1/);
  });
});
