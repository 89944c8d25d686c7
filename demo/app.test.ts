import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, stopAll, type RunningProcess } from '../test/processes.js';

/** The demo guestbook on its own: a real process on a free port, plain HTTP. */
const SERVER = join(dirname(fileURLToPath(import.meta.url)), 'app', 'server.mjs');

let app: RunningProcess;
let base = '';

beforeAll(async () => {
  app = startProcess('guestbook', process.execPath, [SERVER], { env: { PORT: '0', HOST: '127.0.0.1' } });
  const [, url] = await app.waitFor(/listening on (http:\/\/\S+)\//);
  base = url!;
});

afterAll(stopAll);

function sign(fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/sign`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual', headers });
}

describe('demo guestbook', () => {
  it('shows the form and no messages at first', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await res.text();
    expect(html).toContain('<form method="post" action="/sign">');
    expect(html).toContain('No messages yet');
  });

  it('adds a signed message, escaped, newest first, and redirects back to the page', async () => {
    expect((await sign({ name: 'Ada', message: 'first' })).status).toBe(303);
    const res = await sign({ name: 'Eve <script>', message: 'x < y & "z"' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const html = await (await fetch(`${base}/`)).text();
    expect(html).toContain('<strong>Eve &lt;script&gt;</strong>');
    expect(html).toContain('x &lt; y &amp; &quot;z&quot;');
    expect(html).not.toContain('<script>');
    expect(html.indexOf('Eve &lt;script&gt;')).toBeLessThan(html.indexOf('<strong>Ada</strong>'));
  });

  it('remembers a visitor by cookie and fills in their name', async () => {
    const first = await fetch(`${base}/`);
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    expect(cookie).toMatch(/^gb_visitor=[\w-]+$/);
    await first.body?.cancel();
    await sign({ name: 'Grace', message: 'hi' }, { cookie });
    const again = await fetch(`${base}/`, { headers: { cookie } });
    expect(again.headers.get('set-cookie')).toBeNull();
    expect(await again.text()).toContain('name="name" maxlength="60" required value="Grace"');
  });

  it('refuses an empty message with 400 and says why', async () => {
    const res = await sign({ name: ' ', message: '' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('Please give your name and a message.');
  });

  it('refuses a body over 4 KB with 413', async () => {
    const res = await sign({ name: 'big', message: 'x'.repeat(5000) });
    expect(res.status).toBe(413);
  });

  it('counts every request except health checks in its footer', async () => {
    const count = async (): Promise<number> =>
      Number(/(\d+) requests served/.exec(await (await fetch(`${base}/`)).text())![1]);
    const before = await count();
    await (await fetch(`${base}/healthz`)).text();
    await (await fetch(`${base}/nowhere`)).text();
    // The footer's own request is counted too: +1 for /nowhere, +1 for this GET /.
    expect(await count()).toBe(before + 2);
  });

  it('answers health checks and 404s', async () => {
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe('ok\n');
    const missing = await fetch(`${base}/nowhere`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('Not found: GET /nowhere');
  });

  it('stops on SIGTERM (as process 1 in a container, where node has no default handler)', async () => {
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  });
});
