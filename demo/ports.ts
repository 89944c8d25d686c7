import { createServer } from 'node:net';

/** True when nothing listens on `host:port` yet (we could bind it ourselves). */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * A port that is free on `host` right now, chosen by the kernel. Another process may
 * take it before ours binds it; between the tests of one machine that is rare enough.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error(`could not find a free port on ${host}`))));
    });
  });
}

export interface PickedPort {
  port: number;
  /** The preferred port was taken and another one was chosen. */
  moved: boolean;
}

/**
 * `preferred` when it is free on `host`, else any free port (`preferred` 0 means any).
 * `taken` are ports already handed out in this run, so two picks never collide.
 */
export async function pickPort(
  preferred: number,
  host = '127.0.0.1',
  taken: readonly number[] = [],
): Promise<PickedPort> {
  if (preferred !== 0 && !taken.includes(preferred) && (await isPortFree(preferred, host))) {
    return { port: preferred, moved: false };
  }
  for (;;) {
    const port = await freePort(host);
    if (!taken.includes(port)) return { port, moved: preferred !== 0 };
  }
}
