/**
 * http-proxy as most people write it: `node http-proxy-forwarder.js TARGET_PORT default`
 * is the README's `createProxyServer({ target })` (no agent: a new upstream connection per
 * request); `keep-alive` adds only a keep-alive agent.
 */
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';
import { announce } from './listening.js';

const targetPort = Number(process.argv[2]);
const variant = process.argv[3] ?? 'default';
const proxy = httpProxy.createProxyServer({
  target: `http://127.0.0.1:${targetPort}`,
  ...(variant === 'keep-alive' ? { agent: new Agent({ keepAlive: true }) } : {}),
});
proxy.on('error', function onError(_error, _req, res) {
  const response = res as import('node:http').ServerResponse;
  if (!response.headersSent) response.writeHead(502);
  response.end();
});
const server = createServer(function forward(req, res) {
  proxy.web(req, res);
});
announce(server, 0);
