import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../gateway/config.js';

const file = (content: string) => {
  const p = join(mkdtempSync(join(tmpdir(), 'gw-config-')), 'gateway.json');
  writeFileSync(p, content);
  return p;
};

describe('configuration', () => {
  it('serves on embedded defaults: port 8080 on loopback, default policy, no raw text kept, auth off without keys', () => {
    const c = loadConfig();
    assert.equal(c.port, 8080);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.audit.content, 'none');
    assert.equal(c.auth.mode, 'off');
    assert.equal(c.upstream.url, undefined);
  });

  it('reads a JSON file and lets environment variables override it', () => {
    const f = file(JSON.stringify({ port: 9000, upstream: { url: 'http://127.0.0.1:1/v1', models: { a: 'b' } } }));
    const c = loadConfig({
      file: f,
      env: {
        GATEWAY_PORT: '9100',
        GATEWAY_API_KEYS: 'key-one-123, key-two-456',
        GATEWAY_UPSTREAM_API_KEY: 'sk-up-0000000',
      },
    });
    assert.equal(c.port, 9100);
    assert.equal(c.upstream.url, 'http://127.0.0.1:1/v1');
    assert.deepEqual(c.upstream.models, { a: 'b' });
    assert.deepEqual(c.auth.apiKeys, [
      { key: 'key-one-123', tenant: null },
      { key: 'key-two-456', tenant: null },
    ]);
    assert.equal(c.auth.mode, 'keys');
  });

  it('stops with the path of the bad field and the reason', () => {
    assert.throws(
      () => loadConfig({ env: { GATEWAY_PORT: 'eighty' } }),
      (e: Error) => e instanceof ConfigError && /port \(from GATEWAY_PORT\): .*number/.test(e.message),
    );
    assert.throws(
      () => loadConfig({ env: { GATEWAY_UPSTREAM_URL: 'not a url' } }),
      /upstream\.url \(from GATEWAY_UPSTREAM_URL\)/,
    );
    assert.throws(() => loadConfig({ file: file('{"audit": {"content": "everything"}}') }), /audit\.content: /);
    assert.throws(() => loadConfig({ file: file('{"prot": 1}') }), /prot|Unrecognized/);
    assert.throws(() => loadConfig({ file: file('{nope') }), /not valid JSON/);
    assert.throws(() => loadConfig({ file: '/nonexistent/gateway.json' }), /cannot read/);
  });

  it('refuses to listen beyond loopback without keys, unless auth is switched off on purpose', () => {
    assert.throws(() => loadConfig({ env: { GATEWAY_HOST: '0.0.0.0' } }), /no API keys/);
    assert.equal(loadConfig({ env: { GATEWAY_HOST: '0.0.0.0', GATEWAY_AUTH: 'off' } }).auth.mode, 'off');
    assert.throws(() => loadConfig({ env: { GATEWAY_AUTH: 'keys' } }), /no API keys/);
  });

  it('rejects keys too short to be secret', () => {
    assert.throws(
      () => loadConfig({ env: { GATEWAY_API_KEYS: 'abc' } }),
      /auth\.apiKeys\.0: an API key must be at least 8 characters/,
    );
  });
});

describe('tenants', () => {
  it('reads tenant:key pairs from GATEWAY_API_KEYS and objects from the file', () => {
    const c = loadConfig({ env: { GATEWAY_API_KEYS: 'acme:sk-acme-0123456789,sk-plain-0123456789' } });
    assert.deepEqual(c.auth.apiKeys, [
      { key: 'sk-acme-0123456789', tenant: 'acme' },
      { key: 'sk-plain-0123456789', tenant: null },
    ]);
    const f = file(JSON.stringify({ auth: { apiKeys: [{ key: 'sk-globex-012345', tenant: 'globex' }] } }));
    assert.deepEqual(loadConfig({ file: f }).auth.apiKeys, [{ key: 'sk-globex-012345', tenant: 'globex' }]);
  });

  it("reads tenant:key strings in the file's apiKeys exactly as GATEWAY_API_KEYS reads them", () => {
    const f = file(JSON.stringify({ auth: { apiKeys: ['acme:sk-acme-0123456789', 'sk-plain-0123456789'] } }));
    const fromFile = loadConfig({ file: f }).auth.apiKeys;
    const fromEnv = loadConfig({ env: { GATEWAY_API_KEYS: 'acme:sk-acme-0123456789,sk-plain-0123456789' } }).auth
      .apiKeys;
    assert.deepEqual(fromFile, [
      { key: 'sk-acme-0123456789', tenant: 'acme' },
      { key: 'sk-plain-0123456789', tenant: null },
    ]);
    assert.deepEqual(fromFile, fromEnv);
  });
});

describe('configuration file errors and the pid file', () => {
  it('reports invalid JSON by line and column', () => {
    assert.throws(
      () => loadConfig({ file: file('{\n  "port": 8080,\n  "host": "127.0.0.1",\n}\n') }),
      /gateway\.json: not valid JSON at line 4, column 1: /,
    );
  });

  it('lets a file with a bad section still report that section when a variable writes into it', () => {
    assert.throws(
      () =>
        loadConfig({ file: file('{"upstream": "http://x"}'), env: { GATEWAY_UPSTREAM_URL: 'http://127.0.0.1:1/v1' } }),
      /upstream: /,
    );
  });

  it('writes the pid to .data/gateway.pid unless pidFile or GATEWAY_PID_FILE says otherwise', () => {
    assert.equal(loadConfig().pidFile, '.data/gateway.pid');
    assert.equal(loadConfig({ env: { GATEWAY_PID_FILE: '/run/gw.pid' } }).pidFile, '/run/gw.pid');
    assert.equal(loadConfig({ env: { GATEWAY_PID_FILE: 'off' } }).pidFile, false);
    assert.equal(loadConfig({ file: file('{"pidFile": "gw.pid"}') }).pidFile, 'gw.pid');
    assert.equal(loadConfig({ file: file('{"pidFile": false}') }).pidFile, false);
  });
});
