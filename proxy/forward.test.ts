/**
 * Fidelity of the forwarding: the real apptrace-proxy (dist/proxy/cli.js) in front of a
 * real target process (fixtures/target-server.js), with --profiler pointing at a small
 * recorder so that no sidecar is involved.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { patternedSha1, patternedStream } from './fixtures/patterned.js';
import {
  type Started,
  eventually,
  fixture,
  killAll,
  memoryOf,
  request,
  startNode,
  startProxy,
} from '../test/proxy-support.js';

const BIG = 200 * 1024 * 1024;

let target: Started;
let recorder: Started;
let proxy: Started;

beforeAll(async () => {
  [target, recorder] = await Promise.all([
    startNode(fixture('target-server.js'), []),
    startNode(fixture('signal-recorder.js'), []),
  ]);
  proxy = await startProxy(['--target', `127.0.0.1:${target.port}`, '--profiler', `http://127.0.0.1:${recorder.port}`]);
});
afterAll(killAll);

describe('apptrace-proxy forwards', () => {
  it.each(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])(
    '%s with its body, path and query',
    async (method) => {
      const body = method === 'GET' || method === 'HEAD' ? undefined : `a ${method} body ✓`;
      const res = await request(proxy.port, '/echo/some/path?q=1&r=%20x', {
        method,
        body,
        headers: { 'x-custom': 'kept', ...(body ? { 'content-type': 'text/plain' } : {}) },
      });
      expect(res.status).toBe(200);
      if (method === 'HEAD') {
        expect(res.body).toBe('');
        return;
      }
      const seen = JSON.parse(res.body);
      expect(seen.method).toBe(method);
      expect(seen.url).toBe('/echo/some/path?q=1&r=%20x');
      expect(seen.headers['x-custom']).toBe('kept');
      const expected = body === undefined ? '' : body;
      expect(seen.bytes).toBe(Buffer.byteLength(expected));
      expect(seen.sha1).toBe(createHash('sha1').update(expected).digest('hex'));
    },
  );

  it('chunked request bodies of DELETE and OPTIONS (which http-proxy would otherwise empty)', async () => {
    for (const method of ['DELETE', 'OPTIONS', 'PATCH']) {
      const res = await request(proxy.port, '/echo', {
        method,
        headers: { 'transfer-encoding': 'chunked' },
        body: patternedStream(300_000),
      });
      const seen = JSON.parse(res.body);
      expect(seen.method).toBe(method);
      expect(seen.bytes).toBe(300_000);
      expect(seen.sha1).toBe(patternedSha1(300_000));
    }
  });

  it('the status code of the target, and its body', async () => {
    const res = await request(proxy.port, '/status/418', { method: 'POST', body: 'x' });
    expect(res.status).toBe(418);
    expect(JSON.parse(res.body)).toEqual({ status: 418 });
  });

  it('repeated set-cookie and other repeated headers intact, hop-by-hop headers dropped', async () => {
    const res = await request(proxy.port, '/cookies');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; HttpOnly', 'c=3; Max-Age=60']);
    const repeated = res.rawHeaders.filter(
      (_, i) => i % 2 === 1 && res.rawHeaders[i - 1]!.toLowerCase() === 'x-repeated',
    );
    expect(repeated).toEqual(['one', 'two']);
    // The target's own Keep-Alive hint describes its connection to the proxy, not ours.
    expect(res.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'keep-alive')).toEqual([]);
  });

  it('X-Forwarded-For/-Proto/-Host/-Port, and strips hop-by-hop request headers', async () => {
    const res = await request(proxy.port, '/echo', {
      headers: {
        'x-forwarded-for': '203.0.113.7',
        connection: 'keep-alive, x-hop',
        'x-hop': 'secret',
        'keep-alive': 'timeout=9',
        te: 'trailers',
      },
    });
    const seen = JSON.parse(res.body);
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${proxy.port}`);
    expect(seen.headers['x-forwarded-port']).toBe(String(proxy.port));
    expect(seen.headers['host']).toBe(`127.0.0.1:${proxy.port}`);
    expect(seen.headers['x-hop']).toBeUndefined();
    expect(seen.headers['te']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
  });

  it('a 200 MB upload and a 200 MB download, streamed: the proxy stays flat in memory', async () => {
    const pid = proxy.child.pid!;
    await request(proxy.port, '/echo'); // warm
    const before = memoryOf(pid);

    const up = await request(proxy.port, '/upload', {
      method: 'POST',
      body: patternedStream(BIG),
      headers: { 'content-length': String(BIG) },
    });
    expect(JSON.parse(up.body)).toEqual({ bytes: BIG, sha1: patternedSha1(BIG) });

    const down = await new Promise<{ bytes: number; sha1: string; length: string | undefined }>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: proxy.port, path: `/download?bytes=${BIG}`, agent: false }, (res) => {
        const hash = createHash('sha1');
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          hash.update(chunk);
        });
        res.on('end', () => resolve({ bytes, sha1: hash.digest('hex'), length: res.headers['content-length'] }));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    expect(down).toEqual({ bytes: BIG, sha1: patternedSha1(BIG), length: String(BIG) });

    const after = memoryOf(pid);
    // A buffering proxy would hold at least one whole body (200 MB). Streaming holds a few
    // socket buffers; the bound leaves room for the 64 KB read buffers that are garbage
    // until V8 next collects (measured: the peak grows by ~40 MB over 400 MB moved).
    expect(after.hwm - before.rss).toBeLessThan(100 * 1024 * 1024);
  });

  it('a client that goes away mid-download frees the connection to the target', async () => {
    const before = Number((await request(target.port, '/control/aborted')).body);
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: proxy.port, path: `/download?bytes=${BIG}`, agent: false },
        (res) => {
          res.once('data', () => {
            // Stop reading and hang up after the first chunk.
            res.destroy();
            resolve();
          });
        },
      );
      req.on('error', reject);
      req.end();
    });
    // The proxy must destroy its upstream response, or the target would keep writing into
    // a paused stream forever.
    const after = await eventually(async () => {
      const n = Number((await request(target.port, '/control/aborted')).body);
      return n > before ? n : undefined;
    }, 'the target to see the download aborted');
    expect(after).toBe(before + 1);
  });

  it('server-sent events one by one, before the stream ends', async () => {
    const events: string[] = [];
    await new Promise<void>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: proxy.port, path: '/sse?id=s1', agent: false }, (res) => {
        expect(res.headers['content-type']).toBe('text/event-stream');
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          buffered += text;
          let end: number;
          while ((end = buffered.indexOf('\n\n')) !== -1) {
            events.push(buffered.slice(0, end));
            buffered = buffered.slice(end + 2);
            // The target sends the next event only when asked: a proxy that held the
            // stream back would leave this test waiting for it.
            if (events.length < 3) void request(proxy.port, '/sse-next?id=s1').catch(reject);
          }
        });
        res.on('end', () => resolve());
      })
        .on('error', reject)
        .end();
    });
    expect(events).toEqual(['data: 1', 'data: 2', 'data: 3']);
  });

  it('a WebSocket upgrade, both ways', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/live?x=1`);
    const messages: string[] = [];
    await new Promise<void>((resolve, reject) => {
      socket.on('message', (data) => {
        messages.push(data.toString());
        if (messages.length === 1) socket.send('ping through the proxy');
        else socket.close();
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    expect(JSON.parse(messages[0]!)).toEqual({ hello: '/live?x=1', forwardedFor: '127.0.0.1' });
    expect(messages[1]).toBe('ping through the proxy');
  });

  it('/_ah/apptrace* to the profiler, not the target', async () => {
    const res = await request(proxy.port, '/_ah/apptrace/control/signals');
    // The 404 comes from the recorder standing in for the profiler (the target would echo).
    expect(res.status).toBe(404);
    const direct = await request(recorder.port, '/control/signals');
    expect(direct.status).toBe(200);
  });
});

describe('when the target is down', () => {
  let downProxy: Started;
  let deadPort: number;

  beforeAll(async () => {
    // A port that just stopped listening: nothing answers there.
    const gone = await startNode(fixture('target-server.js'), []);
    deadPort = gone.port;
    gone.child.kill('SIGKILL');
    await gone.exited;
    downProxy = await startProxy([
      '--target',
      `127.0.0.1:${deadPort}`,
      '--profiler',
      `http://127.0.0.1:${recorder.port}`,
    ]);
  });

  it('answers a 502 page naming the target and how to start it', async () => {
    const res = await request(downProxy.port, '/some/page', {
      headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain(`127.0.0.1:${deadPort}`);
    expect(res.body).toContain('ECONNREFUSED');
    expect(res.body).toMatch(/node --inspect/);
  });

  it('answers JSON when the client prefers JSON', async () => {
    const res = await request(downProxy.port, '/api/items', { headers: { accept: 'application/json' } });
    expect(res.status).toBe(502);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(res.body);
    expect(body.upstream).toBe(`127.0.0.1:${deadPort}`);
    expect(body.code).toBe('ECONNREFUSED');
    expect(body.hint).toMatch(/node --inspect/);
  });

  it('refuses a WebSocket upgrade with a 502', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${downProxy.port}/live`);
    const status = await new Promise<number>((resolve) => {
      socket.on('unexpected-response', (_req, res) => resolve(res.statusCode!));
      socket.on('error', () => resolve(-1));
    });
    expect(status).toBe(502);
  });
});

describe('when the target resets a kept-alive connection as the proxy reuses it', () => {
  it('sends a GET again on a fresh connection, and answers 502 to a POST', async () => {
    const resetting = await startNode(fixture('target-server.js'), [], { env: { RESET_REUSED: '1' } });
    const p = await startProxy([
      '--target',
      `127.0.0.1:${resetting.port}`,
      '--profiler',
      `http://127.0.0.1:${recorder.port}`,
    ]);
    // Sequential: each request after the first goes out on the socket the previous one
    // left in the pool, which the target resets.
    for (let i = 0; i < 3; i++) {
      const res = await request(p.port, `/echo?i=${i}`);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body).url).toBe(`/echo?i=${i}`);
    }
    // A POST may have reached the target: it is not sent twice.
    const post = await request(p.port, '/echo', {
      method: 'POST',
      body: 'once',
      headers: { accept: 'application/json' },
    });
    expect(post.status).toBe(502);
    expect(JSON.parse(post.body).code).toBe('ECONNRESET');
  });
});
