import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import request from 'supertest';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/replicas.js';
import { ADMIN_KEY, consolePolicy, startConsoleGateway } from './fixture.js';

const admin = { authorization: `Bearer ${ADMIN_KEY}` };
const prefix = testPrefix('console');
after(() => deleteKeys(prefix));

describe('console publish with policies in Redis', () => {
  it('publishes as enforced through the Redis publish path, tests first', async () => {
    const c = await startConsoleGateway({ GATEWAY_REDIS_URL: REDIS_URL, GATEWAY_REDIS_PREFIX: prefix });
    try {
      const texts = await request(c.gw.server).get('/console/api/policy').set(admin).expect(200);
      assert.equal(texts.body.publish.enforced, 'redis');
      const post = (body: object) => request(c.gw.server).post('/console/api/policy/publish').set(admin).send(body);
      // Refuses plums instead of apples: the suite beside the policy fails, so nothing is published.
      const failing = JSON.stringify({ ...consolePolicy({ refuse: 'plum', flag: 'pear' }), id: 'console-plum' });
      const refused = await post({ text: failing, target: 'enforced' }).expect(422);
      assert.equal(refused.body.tests.summary.fail, 1);
      // Even with the override, the gateway's own reload checks (the tests beside the policy) still hold.
      const overridden = await post({ text: failing, target: 'enforced', override: true }).expect(422);
      assert.match(overridden.body.faults.join('\n'), /refuses an apple/);
      assert.equal(c.gw.policies.store.current().default.policy.id, 'console-test');
      const good = JSON.stringify({ ...consolePolicy(), id: 'console-redis' });
      const published = await post({ text: good, target: 'enforced' }).expect(200);
      assert.equal(published.body.via, 'redis');
      assert.equal(published.body.action, 'publish');
      assert.equal(c.gw.policies.store.current().default.policy.id, 'console-redis');
      const overview = await request(c.gw.server).get('/console/api/overview?minutes=1').set(admin).expect(200);
      assert.equal(overview.body.published.at(-1).revision, published.body.revision);
    } finally {
      await c.close();
    }
  });
});
