// Vite in middleware mode, as a custom SSR dev server does it: every request loads
// src/entry-server.js through vite.ssrLoadModule (Vite's module runner, which runs the
// transformed module inside an AsyncFunction) and renders with it.
import http from 'node:http';
import { createServer as createViteServer } from 'vite';

const vite = await createViteServer({
  root: import.meta.dirname,
  appType: 'custom',
  logLevel: 'error',
  server: { middlewareMode: true, hmr: false, watch: null },
});

const server = http.createServer(async (req, res) => {
  try {
    const { render } = await vite.ssrLoadModule('/src/entry-server.js');
    res.setHeader('content-type', 'text/html');
    res.end(render(req.url ?? '/'));
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});

server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
