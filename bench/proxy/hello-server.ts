/** The bench's target: the smallest useful node:http app, in its own process. `node hello-server.js [port]` */
import { createServer } from 'node:http';
import { announce } from './listening.js';

const body = Buffer.from('hello world\n');
const server = createServer(function hello(_req, res) {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
announce(server, Number(process.argv[2] ?? 0));
