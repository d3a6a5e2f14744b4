import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import request from 'supertest';
import { loadConfig } from '../gateway/config.js';
import { auth, startTestGateway } from './support/harness.js';

const ADMIN = 'sk-admin-key-0123456789';
const admin = { authorization: `Bearer ${ADMIN}` };

describe('configuration that surprises (issue #16, item 7)', () => {
  it('requires the admin keys on admin routes and the audit export even when client auth is off', async () => {
    const gw = await startTestGateway({ GATEWAY_AUTH: 'off', GATEWAY_API_KEYS: '', GATEWAY_ADMIN_KEYS: ADMIN });
    try {
      assert.equal((await request(gw.server).post('/v1/moderations').send({ input: 'hi' })).status, 200);
      assert.equal((await request(gw.server).get('/v1/policies')).status, 401);
      assert.equal((await request(gw.server).post('/v1/policies/reload')).status, 401);
      assert.equal((await request(gw.server).get('/v1/audit/export')).status, 401);
      assert.equal((await request(gw.server).get('/v1/audit/export/manifest')).status, 401);
      const other = { authorization: 'Bearer sk-not-the-admin-key-000' };
      assert.equal((await request(gw.server).get('/v1/policies').set(other)).status, 403);
      assert.equal((await request(gw.server).get('/v1/policies').set(admin)).status, 200);
      assert.equal((await request(gw.server).get('/v1/audit/export/manifest').set(admin)).status, 200);
    } finally {
      await gw.close();
    }
  });

  it('leaves the admin routes open with auth off and no admin keys (local development)', async () => {
    const gw = await startTestGateway({ GATEWAY_AUTH: 'off', GATEWAY_API_KEYS: '' });
    try {
      assert.equal((await request(gw.server).get('/v1/policies')).status, 200);
      assert.equal((await request(gw.server).get('/readyz')).body.policy.id, 'rules-only');
    } finally {
      await gw.close();
    }
  });

  it('shows /readyz details (policy path, revisions, bindings) to admin keys only', async () => {
    const gw = await startTestGateway({ GATEWAY_ADMIN_KEYS: ADMIN });
    try {
      for (const headers of [{}, auth]) {
        const r = await request(gw.server).get('/readyz').set(headers);
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, { status: 'ready' });
        assert.doesNotMatch(r.text, /policies|revision|bindings/);
      }
      const r = await request(gw.server).get('/readyz').set(admin);
      assert.equal(r.body.status, 'ready');
      assert.equal(r.body.policy.id, 'rules-only'); // the pack test gateways run (support/harness.ts)
      assert.match(r.body.policy.revision, /^[0-9a-f]{64}$/);
      assert.match(r.body.upstream, /not configured/);
    } finally {
      await gw.close();
    }
  });

  it('records what reaches the pipeline, and counts (does not record) what the edge rejects, as documented', async () => {
    const gw = await startTestGateway();
    try {
      const post = () => request(gw.server).post('/v1/moderations');
      assert.equal((await post().send({ input: 'x' })).status, 401);
      assert.equal((await request(gw.server).get('/v1/nowhere').set(auth)).status, 404);
      assert.equal((await post().set(auth).send({ input: 5 })).status, 400);
      assert.equal((await post().set(auth).set('content-type', 'application/json').send('{')).status, 400);
      assert.equal(gw.records().length, 0, 'a request rejected at the edge was recorded');
      const metrics = (await request(gw.server).get('/metrics')).text;
      for (const code of ['invalid_api_key', 'not_found', 'invalid_request', 'invalid_json'])
        assert.match(metrics, new RegExp(`gateway_errors_total\\{route="[^"]*",code="${code}"\\} 1`));
      assert.equal((await post().set(auth).send({ input: 'hello' })).status, 200);
      assert.equal(gw.records().length, 1);
    } finally {
      await gw.close();
    }
  });

  it('stops start-up on a client key that would be split at ":" or cannot be sent as a Bearer token', () => {
    // Before, the first two were kept whole with their ":" and the third was split at its first ":".
    for (const keys of ['sk/abc:0123456789ab', 'sk-short:xyz', 'acme:sk:0123456789'])
      assert.throws(() => loadConfig({ env: { GATEWAY_API_KEYS: keys } }), /must not contain ":"/, keys);
    assert.throws(() => loadConfig({ env: { GATEWAY_API_KEYS: 'my secret key 01' } }), /no spaces/);
    assert.throws(() => loadConfig({ env: { GATEWAY_ADMIN_KEYS: 'admin key 0123' } }), /no spaces/);
    assert.throws(
      () => loadConfig({ env: { GATEWAY_API_KEYS: 'clé-0123456789' } }),
      /visible ASCII/,
      'a key with non-ASCII characters cannot be sent in a header',
    );
    // The documented tenant:key form keeps working (one ":", a tenant name before it), and a key free of ":" is
    // taken whole.
    const c = loadConfig({ env: { GATEWAY_API_KEYS: 'acme:sk-acme-0123456789,sk-plain-0123456789' } });
    assert.deepEqual(c.auth.apiKeys, [
      { key: 'sk-acme-0123456789', tenant: 'acme' },
      { key: 'sk-plain-0123456789', tenant: null },
    ]);
  });
});
