// Run by tsx: V8 sees this file's URL, its text is the JavaScript tsx made from it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

interface Visit {
  id: number;
  path: string;
  note: string;
}

const visits: Map<number, Visit> = new Map();
let served = 0;

function remember(path: string): number {
  served++;
  const visit: Visit = { id: served, path, note: `visit ${served} `.padEnd(300, '.') };
  visits.set(served, visit);
  return visits.size;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const count: number = remember(req.url ?? '/');
  res.setHeader('content-type', 'text/plain');
  res.end(`visits ${count}`);
}

const server = createServer(handle);
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const address = server.address() as { port: number };
  console.log(`listening on ${address.port}`);
});
