import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';

/**
 * Serves a fetch handler (a Hono app) on 127.0.0.1 and a free port, for page-behaviour
 * tests that need a real HTTP server and a real browser but not the whole tool.
 *
 * @example
 *   const server = await serveApp(createApp(deps).fetch);
 *   await page.goto(`${server.url}/_ah/apptrace`);
 *   await server.close();
 */
export async function serveApp(
  fetch: (request: Request) => Response | Promise<Response>,
  /** 0 (default) for a free port; a given port to restart a server where it was. */
  atPort = 0,
): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch, port: atPort, hostname: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        // Event streams stay open until their clients go; do not wait for them.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
