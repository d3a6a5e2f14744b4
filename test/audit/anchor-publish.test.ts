import assert from 'node:assert/strict';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import request from 'supertest';
import type { AnchorSink } from '../../audit/anchor.js';
import { fileAnchorReader } from '../../audit/anchor.js';
import type { AnchorEvent } from '../../audit/anchor-publisher.js';
import { canonicalJson } from '../../audit/canonical.js';
import { ChainLog, type AuditEvent } from '../../audit/chain-log.js';
import { auditConfigFromEnv, parseAuditConfig } from '../../audit/config.js';
import { loadPublicKey } from '../../audit/keys.js';
import type { Checkpoint } from '../../audit/types.js';
import { verifyLog } from '../../audit/verify.js';
import { auth, chat, startTestGateway } from '../support/harness.js';
import { decision, tempDir } from './helpers.js';

async function until(cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; !(await cond());) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** An anchor that fails its first `failures` publishes, then keeps what it is given. */
function flakySink(failures: number): AnchorSink & { held: Checkpoint[] } {
  const held: Checkpoint[] = [];
  let left = failures;
  return {
    name: 'flaky',
    held,
    publish(cp) {
      if (left-- > 0) return Promise.reject(new Error('witness unreachable'));
      held.push(cp);
      return Promise.resolve();
    },
  };
}

const anchorEvents = (events: AuditEvent[]): AnchorEvent[] =>
  events.filter((e): e is AnchorEvent => e.type === 'anchor');

describe('anchor publishing', () => {
  it('retries a failing anchor off the request path, reports each failure, and loses no checkpoint', async (t) => {
    const dir = await tempDir(t);
    const events: AuditEvent[] = [];
    const sink = flakySink(3);
    const log = await ChainLog.open({
      dir,
      checkpointEvery: 2,
      anchor: { retryMs: 5 },
      anchorSinks: [sink],
      onEvent: (e) => events.push(e),
    });
    for (let i = 1; i <= 6; i++) await log.append(decision(i)); // appends never wait for the anchor
    await until(() => anchorEvents(events).some((e) => e.outcome === 'failed'));
    await log.close(); // waits (up to closeTimeoutMs) for the retries to deliver what is queued
    const failed = anchorEvents(events).filter((e) => e.outcome === 'failed');
    assert.equal(failed.length, 3);
    assert.match(failed[0].error?.message ?? '', /unreachable/);
    const logged = events.filter((e) => e.type === 'error').map((e) => (e.type === 'error' ? e.error.message : ''));
    assert.equal(
      logged.filter((m) => /^audit anchor flaky could not take the checkpoint .*unreachable/.test(m)).length,
      3,
    );
    const local = (await readFile(join(dir, 'checkpoints.ndjson'), 'utf8')).trim().split('\n');
    assert.ok(local.length >= 2);
    assert.deepEqual(sink.held.map(canonicalJson), local, 'every checkpoint, in order');
  });

  it('a hung anchor holds up neither appends nor close; what it did not take is sent on the next start', async (t) => {
    const dir = await tempDir(t);
    const events: AuditEvent[] = [];
    const hung: AnchorSink = { name: 'later', publish: () => new Promise<void>(() => {}) };
    const log = await ChainLog.open({
      dir,
      anchor: { closeTimeoutMs: 50 },
      anchorSinks: [hung],
      onEvent: (e) => events.push(e),
    });
    for (let i = 1; i <= 3; i++) await log.append(decision(i));
    await log.close();
    assert.ok(anchorEvents(events).some((e) => e.outcome === 'unsent' && e.sink === 'later'));
    const back = flakySink(0);
    const again = await ChainLog.open({ dir, anchorSinks: [{ ...back, name: 'later' }], onEvent: () => {} });
    await until(() => back.held.length === 1);
    assert.equal(back.held[0].last_seq, 3);
    await again.close();
  });

  it('writes one structured operational-log line per checkpoint, which verify --anchor reads back', async (t) => {
    const dir = await tempDir(t);
    const opsLog = join(await tempDir(t), 'gateway.log');
    const lines: string[] = [];
    const anchorLogger = {
      info: (message: string, meta: Record<string, unknown>) =>
        lines.push(JSON.stringify({ level: 'info', message, ...meta })),
    };
    const log = await ChainLog.open({
      dir,
      instance: 'gw-1',
      checkpointEvery: 3,
      anchor: { log: true },
      anchorLogger,
      onEvent: () => {},
    });
    for (let i = 1; i <= 7; i++) await log.append(decision(i));
    await log.close();
    assert.ok(lines.length >= 2);
    const first = JSON.parse(lines[0]) as { message: string; instance: string; checkpoint: Checkpoint };
    assert.deepEqual([first.message, first.instance, first.checkpoint.first_seq], ['audit checkpoint', 'gw-1', 1]);
    await writeFile(opsLog, ['{"level":"info","message":"gateway listening"}', ...lines, ''].join('\n'));
    const publicKeys = [await loadPublicKey(join(dir, 'checkpoint-key.pub.pem'))];
    const r = await verifyLog({ dir, publicKeys, anchor: fileAnchorReader(opsLog) });
    assert.equal(r.ok, true, JSON.stringify(r.problems));
    assert.equal(r.anchor?.last_anchored_seq, 7);
  });

  it('POSTs each checkpoint to an HTTP anchor and retries an answer that is not 2xx', async (t) => {
    const got: Checkpoint[] = [];
    let refusals = 2;
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        if (refusals-- > 0) return void res.writeHead(503).end();
        got.push(JSON.parse(body) as Checkpoint);
        res.writeHead(201).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkpoints?token=secret`;
    const dir = await tempDir(t);
    const events: AuditEvent[] = [];
    const log = await ChainLog.open({ dir, anchor: { url, retryMs: 5 }, onEvent: (e) => events.push(e) });
    await log.append(decision(1));
    await log.close();
    assert.equal(got.length, 1);
    assert.equal(got[0].last_seq, 1);
    const failed = anchorEvents(events).filter((e) => e.outcome === 'failed');
    assert.equal(failed.length, 2);
    assert.ok(
      failed.every((e) => !e.sink.includes('secret')),
      'the sink name leaves out the query string',
    );
  });

  it('close gives up on an HTTP anchor that never answers, aborting its request', async (t) => {
    let aborted = false;
    const server = createServer((req) => req.on('close', () => (aborted = true))); // never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const events: AuditEvent[] = [];
    const log = await ChainLog.open({
      dir: await tempDir(t),
      anchor: { url, closeTimeoutMs: 50 },
      onEvent: (e) => events.push(e),
    });
    await log.append(decision(1));
    const started = Date.now();
    await log.close();
    assert.ok(Date.now() - started < 2000);
    await until(() => aborted, 2000);
    assert.ok(anchorEvents(events).some((e) => e.outcome === 'unsent'));
  });

  it('starts a fresh line after a torn final line in the anchor file, which verify skips', async (t) => {
    const dir = await tempDir(t);
    const anchor = join(await tempDir(t), 'anchor.ndjson');
    const write = async (from: number, to: number) => {
      const log = await ChainLog.open({ dir, anchor: { file: anchor }, onEvent: () => {} });
      for (let i = from; i <= to; i++) await log.append(decision(i));
      await log.close();
    };
    await write(1, 2);
    await appendFile(anchor, '{"first_seq":3,"la');
    await write(3, 4);
    const read = await fileAnchorReader(anchor).read();
    assert.deepEqual(
      read.entries.map((e) => e.checkpoint.last_seq),
      [2, 4],
    );
    assert.equal(read.skipped, 1);
    const publicKeys = [await loadPublicKey(join(dir, 'checkpoint-key.pub.pem'))];
    assert.equal((await verifyLog({ dir, publicKeys, anchor: fileAnchorReader(anchor) })).ok, true);
    assert.match(await readFile(anchor, 'utf8'), /"la\n\{/);
  });

  it('takes the anchor file from GATEWAY_AUDIT_ANCHOR_FILE and refuses one inside the log directory', () => {
    assert.deepEqual(auditConfigFromEnv({ GATEWAY_AUDIT_DIR: '/a', GATEWAY_AUDIT_ANCHOR_FILE: '/w/anchor' })?.anchor, {
      file: '/w/anchor',
    });
    assert.throws(
      () => parseAuditConfig({ dir: '/var/log/audit', anchor: { file: '/var/log/audit/a.ndjson' } }),
      /outside/,
    );
    assert.equal(parseAuditConfig({ dir: '/var/log/audit', anchor: { file: '/var/log/anchor' } }).anchor?.log, false);
  });

  it('the gateway anchors its checkpoints to GATEWAY_AUDIT_ANCHOR_FILE', async (t) => {
    const anchor = join(await tempDir(t), 'anchor.ndjson');
    const gw = await startTestGateway({ GATEWAY_AUDIT_ANCHOR_FILE: anchor });
    const res = await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hi'));
    assert.equal(res.status, 503); // no upstream configured: still one decision record
    await gw.close(); // signs the final checkpoint, which goes to the anchor before the log closes
    const read = await fileAnchorReader(anchor).read();
    assert.equal(read.entries.at(-1)?.checkpoint.last_seq, 1);
  });
});
