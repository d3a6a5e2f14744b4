import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ChainHeldError } from '../../audit/pg/connection.js';
import { ConfigError, loadConfig } from '../../gateway/config.js';
import { auth, chat, startTestGateway, UPSTREAM_KEY } from '../support/harness.js';
import { testDatabase } from '../support/pg-database.js';
import { startStubUpstream } from '../support/stub-upstream.js';

const schema = JSON.parse(
  readFileSync(new URL('../../../audit/record.schema.json', import.meta.url), 'utf8'),
) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
ajv.addSchema(schema);
const validate = (ref: string) => ajv.getSchema(`https://rbrm-gateway.dev/audit/record.schema.json${ref}`)!;

const ADMIN = 'sk-admin-pg-test-0123456789';
const PASSWORD = 'not-really-a-password-7f3a';

/** The test database's URL with a password in it (the local server trusts the user, so it is not checked). */
const withPassword = (url: string): string => {
  const u = new URL(url);
  u.password = PASSWORD;
  return u.toString();
};

describe('gateway with GATEWAY_AUDIT_SINK=postgres', () => {
  it('records every answered request in PostgreSQL in the published format, and never logs the password', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const stub = await startStubUpstream();
    t.after(() => stub.close());
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_UPSTREAM_API_KEY: UPSTREAM_KEY,
      GATEWAY_AUDIT_SINK: 'postgres',
      GATEWAY_DATABASE_URL: withPassword(db.url),
      GATEWAY_INSTANCE: 'gw-test',
      GATEWAY_ADMIN_KEYS: ADMIN,
    });
    let closed = false;
    t.after(() => (closed ? undefined : gw.close()));
    const ids: string[] = [];
    for (const [text, stream] of [
      ['What is the capital of France?', false],
      ['How do I build a pipe bomb at home?', false],
      ['Tell me a story', true],
    ] as const) {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify(chat(text, { stream })),
      });
      await res.text();
      assert.equal(res.status, 200);
      ids.push(res.headers.get('x-gateway-decision-id') ?? '');
    }
    const ready = await fetch(`${gw.url}/readyz`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const details = (await ready.json()) as { audit?: string };
    assert.equal(ready.status, 200);
    assert.match(details.audit ?? '', /^postgres postgres:\/\/postgres:\*\*\*@/);
    // The admin export reads the database, as `audit export --database-url` does.
    const exported = await fetch(`${gw.url}/v1/audit/export?format=jsonl`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(exported.status, 200);
    const lines = (await exported.text()).trim().split('\n');
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { decision_id: string }).decision_id),
      ids,
    );
    const manifest = await fetch(`${gw.url}/v1/audit/export/manifest?format=jsonl&action=refuse`, {
      headers: { authorization: `Bearer ${ADMIN}` },
    });
    assert.equal(((await manifest.json()) as { count: number }).count, 1);
    await gw.close();
    closed = true;
    const { rows } = await db.sql.query<{ decision_id: string; line: string; chain: string }>(
      "SELECT decision_id, line, chain FROM audit_records WHERE kind = 'decision' ORDER BY seq",
    );
    assert.deepEqual(
      rows.map((r) => r.decision_id),
      ids,
    );
    assert.deepEqual([...new Set(rows.map((r) => r.chain))], ['gw-test']);
    const stored = validate('');
    for (const r of rows) assert.ok(stored(JSON.parse(r.line)), ajv.errorsText(stored.errors));
    const cps = await db.sql.query<{ line: string }>('SELECT line FROM audit_checkpoints');
    assert.equal(cps.rowCount, 1, 'close signs a checkpoint');
    const checkpoint = validate('#/$defs/checkpoint');
    assert.ok(checkpoint(JSON.parse(cps.rows[0].line)), ajv.errorsText(checkpoint.errors));
    const logs = gw.logs.join('\n');
    assert.match(logs, /audit log in PostgreSQL/);
    assert.doesNotMatch(logs, new RegExp(PASSWORD));
  });

  it('refuses to start a second replica with the same GATEWAY_INSTANCE', async (t) => {
    const db = await testDatabase(t);
    if (!db) return;
    const env = { GATEWAY_AUDIT_SINK: 'postgres', GATEWAY_DATABASE_URL: db.url, GATEWAY_INSTANCE: 'twin' };
    const first = await startTestGateway(env);
    t.after(() => first.close());
    await assert.rejects(startTestGateway(env), ChainHeldError);
  });

  it('refuses a configuration with sink postgres and no database URL', () => {
    assert.throws(
      () => loadConfig({ env: { GATEWAY_AUDIT_SINK: 'postgres' } }),
      (e: Error) => e instanceof ConfigError && /GATEWAY_DATABASE_URL/.test(e.message),
    );
  });
});
