/**
 * Stands in for the profiler during the proxy bench: answers every request at once and
 * only counts the signalled requests (GET /count tells how many), so no profiler CPU
 * competes with the proxy.
 */
import { createServer } from 'node:http';
import { announce } from './listening.js';

let signalled = 0;
const server = createServer(function answer(req, res) {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.url === '/_ah/apptrace/api/signal') {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { requests: unknown[] };
      signalled += body.requests.length;
    }
    res.end(req.url === '/count' ? String(signalled) : 'ok');
  });
});
announce(server, 0);
