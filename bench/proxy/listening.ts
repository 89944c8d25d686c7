import type { Server } from 'node:http';

/**
 * Prints `listening <port>` once `server` listens, the line bench/proxy/run.ts waits for;
 * and stops on SIGTERM or when the parent's stdin closes (so a crashed bench leaves no
 * server behind).
 */
export function announce(server: Server, port: number): void {
  server.listen(port, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
