import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import request from 'supertest';
import { auth, CLIENT_KEY, startTestGateway } from './support/harness.js';

/** A raw loopback socket; `closed` resolves with what the server sent before it closed the socket. */
function rawSocket(port: number): { socket: Socket; closed: Promise<string> } {
  const socket = connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (d: Buffer) => (got += d.toString('utf8')));
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(got)));
  return { socket, closed };
}

/** Resolves with `value`, or with 'still open' when `ms` pass first. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<'still open'>((r) => setTimeout(() => r('still open'), ms).unref())]);

/** Headers and the first half of a JSON body whose Content-Length promises more. */
const partialBody = (key: string | null) =>
  [
    'POST /v1/moderations HTTP/1.1',
    'host: 127.0.0.1',
    'content-type: application/json',
    'content-length: 40',
    ...(key ? [`authorization: Bearer ${key}`] : []),
    '',
    '{"input": "hel',
  ].join('\r\n');

describe('clients that hold resources (issue #16, item 6)', () => {
  it('takes no admission slot for a body still arriving, and answers a stalled body 408 and closes it', async () => {
    const gw = await startTestGateway({ GATEWAY_MAX_CONCURRENT: '2', GATEWAY_BODY_TIMEOUT_MS: '600' });
    const stalled = Array.from({ length: 4 }, () => rawSocket(gw.port));
    try {
      for (const s of stalled) s.socket.write(partialBody(CLIENT_KEY));
      await new Promise((r) => setTimeout(r, 150));
      // Before: the four trickling bodies held both slots, and this answered 429 until they were done.
      const legit = await request(gw.server).post('/v1/moderations').set(auth).send({ input: 'hello' });
      assert.equal(legit.status, 200);
      for (const s of stalled) {
        const got = await within(s.closed, 3000);
        assert.match(got, /^HTTP\/1\.1 408 /, 'a stalled body was not answered 408 and closed');
        assert.match(got, /"code":"request_timeout"/);
      }
    } finally {
      for (const s of stalled) s.socket.destroy();
      await gw.close();
    }
  });

  it('closes sockets whose headers never complete', async () => {
    const gw = await startTestGateway({ GATEWAY_HEADERS_TIMEOUT_MS: '300' });
    const silent = rawSocket(gw.port);
    const halfHeaders = rawSocket(gw.port);
    try {
      halfHeaders.socket.write('POST /v1/moderations HTTP/1.1\r\nhost: 127.0.0.1\r\n');
      assert.notEqual(
        await within(halfHeaders.closed, 3000),
        'still open',
        'a socket with half its headers stayed open',
      );
      assert.notEqual(await within(silent.closed, 3000), 'still open', 'a silent socket stayed open');
    } finally {
      silent.socket.destroy();
      halfHeaders.socket.destroy();
      await gw.close();
    }
  });

  it('closes the socket of a request answered 401 instead of keeping it alive', async () => {
    const gw = await startTestGateway();
    const s = rawSocket(gw.port);
    try {
      s.socket.write('GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n\r\n');
      const got = await within(s.closed, 3000);
      assert.match(String(got), /^HTTP\/1\.1 401 /);
      assert.match(String(got), /\r\nconnection: close\r\n/i);
    } finally {
      s.socket.destroy();
      await gw.close();
    }
  });
});
