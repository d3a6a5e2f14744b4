/**
 * The published JSON Schema of the decision log (audit/record.schema.json) against real records: every route and
 * failure path, both as the pipeline hands them to the sink and as the chained log stores them, and the markers.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { ChainLog } from '../../audit/chain-log.js';
import { GATEWAY_ERROR_CODES, type AuditSink, type DecisionRecord } from '../../audit/types.js';
import { ERROR_STATUS } from '../../gateway/pipeline/errors.js';
import { auth, chat, eventually, startTestGateway, type TestGateway } from '../support/harness.js';
import { startStubUpstream, type StubUpstream } from '../support/stub-upstream.js';
import { decision, quiet } from './helpers.js';

const schemaPath = new URL('../../../audit/record.schema.json', import.meta.url);

/**
 * The default pack without `streamMode` on its rules: its output redactions then cut a stream-first stream
 * rather than hold it, so a record of a cut stream is among those validated.
 */
function cuttingDefaultPack(): string {
  const pack = JSON.parse(readFileSync(new URL('../../../policies/rules-only/policy.json', import.meta.url), 'utf8'));
  for (const rule of pack.rules) delete rule.streamMode;
  delete pack.$schema;
  const dir = mkdtempSync(join(tmpdir(), 'gw-schema-pack-'));
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(pack));
  return dir;
}
const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as { $defs: Record<string, { properties?: object }> };
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addSchema(schema);
const id = 'https://rbrm-gateway.dev/audit/record.schema.json';
const validator = (ref: string) => {
  const v = ajv.getSchema(`${id}${ref}`);
  assert.ok(v, `schema ${ref}`);
  return v;
};
const storedLine = validator('');
const builtRecord = validator('#/$defs/decision');
const checkpointLine = validator('#/$defs/checkpoint');

function assertValid(validate: ReturnType<typeof validator>, value: unknown, what: string): void {
  const ok = validate(value);
  assert.ok(ok, `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
}

/** Every line of every segment, and every checkpoint, in a log directory. */
function storedLines(dir: string): { segments: Record<string, unknown>[]; checkpoints: unknown[] } {
  const read = (f: string) =>
    readFileSync(join(dir, f), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const files = readdirSync(dir);
  return {
    segments: files.filter((f) => f.startsWith('segment-')).flatMap(read),
    checkpoints: files.includes('checkpoints.ndjson') ? read('checkpoints.ndjson') : [],
  };
}

/** A sink that keeps each record as the pipeline built it, then appends it to the chained log. */
function teeSink(log: ChainLog, built: DecisionRecord[]): AuditSink {
  return {
    append: (r) => {
      built.push(structuredClone(r));
      return log.append(r);
    },
    close: () => log.close(),
  };
}

/** Posts a streamed chat request and reads the whole SSE body. */
async function streamed(gw: TestGateway, body: object): Promise<string> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  return res.text();
}

/** Starts a stream and goes away after its first bytes. */
function abandon(gw: TestGateway, body: object): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = httpRequest(
      `${gw.url}/v1/chat/completions`,
      { method: 'POST', headers: { ...auth, 'content-type': 'application/json' } },
      (res) =>
        res.once('data', () => {
          req.destroy();
          resolve();
        }),
    );
    req.on('error', () => undefined);
    req.end(JSON.stringify({ ...body, stream: true }));
    setTimeout(() => reject(new Error('no data')), 3000);
  });
}

describe('decision record format version 1 (audit/record.schema.json)', () => {
  let stub: StubUpstream;
  let gw: TestGateway;
  let logDir: string;
  let log: ChainLog;
  const built: DecisionRecord[] = [];
  before(async () => {
    stub = await startStubUpstream({
      reply: (u) =>
        u.includes('leak') ? 'Sure: card 4111 1111 1111 1111.' : u.includes('slowly') ? 'x'.repeat(2000) : `Echo: ${u}`,
      chunkChars: 6,
      chunkDelayMs: 2,
    });
    logDir = mkdtempSync(join(tmpdir(), 'gw-schema-'));
    log = await ChainLog.open({ dir: logDir, ...quiet });
    gw = await startTestGateway(
      {
        GATEWAY_UPSTREAM_URL: stub.url,
        GATEWAY_UPSTREAM_TIMEOUT_MS: '300',
        GATEWAY_AUDIT_CONTENT: 'full',
        GATEWAY_STREAM_MODE: 'stream-first',
        GATEWAY_POLICY: cuttingDefaultPack(),
      },
      { audit: teeSink(log, built) },
    );
  });
  after(async () => {
    await gw.close();
    await stub.close();
    rmSync(logDir, { recursive: true, force: true });
  });

  it('validates records of every route and failure path, as built and as stored', async () => {
    const post = (body: object) => request(gw.server).post('/v1/chat/completions').set(auth).send(body);
    const statuses: number[] = [];
    const status = async (p: PromiseLike<{ status: number }>) => statuses.push((await p).status);
    await status(post(chat('What is the capital of France?')));
    await status(post(chat('How do I build a pipe bomb at home?')));
    await status(post(chat('My card is 4111 1111 1111 1111')));
    await status(post(chat('please leak it')));
    await status(
      post({
        model: 'stub-model',
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in this picture?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            ],
          },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'look', arguments: '{"at":"it"}' } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'a cat' },
        ],
      }),
    );
    await status(post({ ...chat('hi'), model: 'error-400' }));
    await status(post({ ...chat('hi'), model: 'error-500' }));
    await status(post({ ...chat('hi'), model: 'slow' }));
    await status(
      request(gw.server)
        .post('/v1/moderations')
        .set(auth)
        .send({ input: ['hello', 'How do I build a pipe bomb at home?'] }),
    );
    await streamed(gw, chat('hello world'));
    await streamed(gw, chat('How do I build a pipe bomb at home?'));
    await streamed(gw, chat('please leak it'));
    await streamed(gw, { ...chat('this answer is long enough to be cut'), model: 'die' });
    await abandon(gw, chat('answer slowly'));
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 400, 502, 504, 200]);
    await eventually(() => built.length === 14, 3000);

    const seen = new Set(built.map((r) => `${r.api} ${r.stream ? 'stream' : 'json'} ${r.action} ${r.status}`));
    for (const path of [
      'chat.completions json allow 200',
      'chat.completions json refuse 200',
      'chat.completions json redact 200',
      'chat.completions json allow 400',
      'chat.completions json allow 502',
      'chat.completions json allow 504',
      'moderations json refuse 200',
      'chat.completions stream allow 200',
      'chat.completions stream refuse 200',
      'chat.completions stream allow 502',
      'chat.completions stream allow 499',
    ])
      assert.ok(seen.has(path), `no record for ${path}: ${[...seen].join(', ')}`);
    const errors = new Set(built.map((r) => r.error?.type).filter(Boolean));
    assert.deepEqual([...errors].sort(), [
      'client_closed',
      'upstream_client_error',
      'upstream_error',
      'upstream_timeout',
    ]);
    // In stream-first mode an output redaction cuts the stream (text already sent cannot be redacted).
    const cut = built.find((r) => r.stream && r.stages.output?.action === 'redact');
    assert.equal(cut?.action, 'refuse', 'no stream was cut by its output stage');
    const withParts = built.find((r) => r.content.media);
    assert.equal(withParts?.content.media?.[0]?.type, 'image_url');
    assert.deepEqual(withParts?.content.tool_calls?.input, [{ arguments: '{"at":"it"}', id: 'call_1', name: 'look' }]);

    for (const r of built) assertValid(builtRecord, r, `built ${r.decision_id}`);
    await log.flush();
    await log.checkpoint();
    const { segments, checkpoints } = storedLines(logDir);
    assert.equal(segments.length, built.length);
    for (const line of segments) assertValid(storedLine, line, `stored seq ${String(line.seq)}`);
    for (const cp of checkpoints) assertValid(checkpointLine, cp, 'checkpoint');
  });

  it('validates the records of a gateway with no upstream configured', async () => {
    const bare = await startTestGateway({ GATEWAY_AUDIT_CONTENT: 'hash' });
    try {
      const res = await request(bare.server).post('/v1/chat/completions').set(auth).send(chat('hi'));
      assert.equal(res.status, 503);
      await eventually(() => bare.records().length === 1);
      const [r] = bare.records();
      assert.equal(r.error?.type, 'upstream_not_configured');
      assertValid(storedLine, r, 'stored, upstream not configured');
    } finally {
      await bare.close();
    }
  });

  it('validates retention and repair markers and checkpoints', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-markers-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const log = await ChainLog.open({ dir, segmentMaxBytes: 2000, retention: { maxSegments: 2 }, ...quiet });
    for (let i = 1; i <= 12; i++) await log.append(decision(i));
    await log.applyRetention();
    await log.close();
    const last = readdirSync(dir)
      .filter((f) => f.startsWith('segment-'))
      .sort()
      .at(-1);
    appendFileSync(join(dir, last ?? ''), '{"torn":');
    await (await ChainLog.open({ dir, ...quiet })).close();
    const { segments, checkpoints } = storedLines(dir);
    assert.deepEqual(new Set(segments.map((l) => l.kind)), new Set(['decision', 'retention', 'repair']));
    for (const line of segments) assertValid(storedLine, line, `stored ${String(line.kind)} ${String(line.seq)}`);
    assert.ok(checkpoints.length > 0);
    for (const cp of checkpoints) assertValid(checkpointLine, cp, 'checkpoint');
  });

  it('validates the checkpoint schedule the writer signs, and only that shape', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-schedule-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const log = await ChainLog.open({ dir, checkpointEvery: 7, checkpointIntervalMs: 9000, ...quiet });
    await log.append(decision(1));
    await log.close();
    const [cp] = storedLines(dir).checkpoints as Array<Record<string, unknown>>;
    assert.deepEqual(cp.schedule, { every: 7, interval_ms: 9000 });
    assertValid(checkpointLine, cp, 'checkpoint with a schedule');
    const { schedule: _s, ...without } = cp;
    assertValid(checkpointLine, without, 'checkpoint signed before schedules were recorded');
    assert.equal(checkpointLine({ ...cp, schedule: { every: 7 } }), false);
    assert.equal(checkpointLine({ ...cp, schedule: { every: 0, interval_ms: 9000 } }), false);
  });

  it('fails a record whose field was renamed or whose version is missing', () => {
    const good = decision(3);
    assertValid(builtRecord, good, 'fixture');
    const input = good.stages.input;
    assert.ok(input);
    const { latency_ms, ...rest } = input;
    const renamed = { ...good, stages: { input: { ...rest, latencyMs: latency_ms } } };
    assert.equal(builtRecord(renamed), false);
    const { v: _v, ...unversioned } = good;
    assert.equal(builtRecord(unversioned), false);
    assert.equal(builtRecord({ ...good, error: { type: 'exploded', message: 'x' } }), false);
  });

  it('lists exactly the gateway error codes, and client_closed, as error types', () => {
    const props = schema.$defs.decisionFields.properties as { error: { properties: { type: { enum: string[] } } } };
    assert.deepEqual(props.error.properties.type.enum, [...GATEWAY_ERROR_CODES, 'client_closed']);
    assert.deepEqual(Object.keys(ERROR_STATUS).sort(), [...GATEWAY_ERROR_CODES].sort());
  });
});
