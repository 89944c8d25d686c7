/**
 * The target of bench/allocation-sites: a small node:http app doing the allocation work
 * of a typical JSON endpoint. Each request parses its URL, builds a list of objects with
 * strings and arrays, serialises it, and keeps a little in a bounded cache (so some objects
 * survive, as in a real app). Prints "listening on PORT".
 */
import { createServer } from 'node:http';

interface Item {
  id: number;
  name: string;
  tags: string[];
  price: number;
  owner: { id: number; label: string };
}

const CACHE_SIZE = 500;
const cache = new Map<string, Item[]>();
let served = 0;

function buildItems(count: number, seed: number): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < count; i++) {
    items.push({
      id: seed + i,
      name: `item ${seed + i}`,
      tags: ['new', i % 2 === 0 ? 'even' : 'odd', String(i % 7)],
      price: Math.round((seed + i) * 1.37 * 100) / 100,
      owner: { id: i % 13, label: `owner-${i % 13}` },
    });
  }
  return items;
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://target');
  const count = Number(url.searchParams.get('n') ?? 40);
  const items = buildItems(count, served++);
  const key = `${url.pathname}#${served % (CACHE_SIZE * 2)}`;
  cache.set(key, items.slice(0, 4));
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  const body = JSON.stringify({ path: url.pathname, total: items.length, items });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address ? address.port : 0}`);
});
