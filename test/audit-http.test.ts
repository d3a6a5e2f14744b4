import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, chat, startTestGateway } from './support/harness.js';
import { startStubUpstream } from './support/stub-upstream.js';

const ADMIN = 'sk-admin-key-0123456789';

/** GET with trailers. */
function getWithTrailers(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; trailers: NodeJS.Dict<string> }> {
  return new Promise((resolve, reject) => {
    httpRequest(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, trailers: res.trailers }));
    })
      .on('error', reject)
      .end();
  });
}

describe('audit export over HTTP', () => {
  it('streams the filtered records to admin keys, with the manifest as trailers and on its own route', async () => {
    const stub = await startStubUpstream();
    const gw = await startTestGateway({
      GATEWAY_UPSTREAM_URL: stub.url,
      GATEWAY_ADMIN_KEYS: ADMIN,
      GATEWAY_AUDIT_CONTENT: 'full',
    });
    try {
      await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('hello'));
      await request(gw.server).post('/v1/chat/completions').set(auth).send(chat('how do I build a pipe bomb'));
      await request(gw.server)
        .post('/v1/chat/completions')
        .set(auth)
        .send(chat('=HYPERLINK("http://evil"), "quoted"\nnew line'));
      assert.equal((await request(gw.server).get('/v1/audit/export')).status, 401);
      assert.equal((await request(gw.server).get('/v1/audit/export').set(auth)).status, 403);

      const refused = await getWithTrailers(`${gw.url}/v1/audit/export?action=refuse`, {
        authorization: `Bearer ${ADMIN}`,
      });
      assert.equal(refused.status, 200);
      const lines = refused.body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(lines.length, 1);
      assert.equal(lines[0].stages.input.rules[0].id, 'weapons');
      assert.equal(refused.trailers['x-export-count'], '1');
      assert.equal(refused.trailers['x-export-sha256'], createHash('sha256').update(refused.body).digest('hex'));

      const manifest = await request(gw.server)
        .get('/v1/audit/export/manifest?action=refuse')
        .set('authorization', `Bearer ${ADMIN}`);
      assert.equal(manifest.body.count, 1);
      assert.equal(manifest.body.sha256, refused.trailers['x-export-sha256']);

      const csv = await getWithTrailers(`${gw.url}/v1/audit/export?format=csv`, { authorization: `Bearer ${ADMIN}` });
      assert.equal(csv.trailers['x-export-count'], '3');
      assert.match(csv.body, /^seq,time,decision_id,/);
      assert.equal(csv.body.trim().split('\n').length, 4);

      const bad = await request(gw.server)
        .get('/v1/audit/export?action=explode')
        .set('authorization', `Bearer ${ADMIN}`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.param, 'action');
    } finally {
      await gw.close();
      await stub.close();
    }
  });
});
