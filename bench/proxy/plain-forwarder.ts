/**
 * The limit for a proxy written in Node: `http.request` over a keep-alive agent, the
 * request piped up and the response piped down. `node plain-forwarder.js TARGET_PORT`
 */
import { Agent, createServer, request } from 'node:http';
import { announce } from './listening.js';

const targetPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true });
const server = createServer(function forward(req, res) {
  const upstream = request(
    { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers, agent },
    function onResponse(upstreamRes) {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    },
  );
  upstream.on('error', function onError() {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
announce(server, 0);
