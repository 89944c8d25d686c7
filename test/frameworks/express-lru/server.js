// Does not leak: the cache keeps the 8 most recent items, so it fills up in the first
// requests and then stays the same size however many ids are asked for.
import express from 'express';
import { LRUCache } from 'lru-cache';

const items = new LRUCache({ max: 8 });

const app = express();

app.get('/items/:id', (req, res) => {
  let item = items.get(req.params.id);
  if (item === undefined) {
    item = { id: req.params.id, body: 'i'.repeat(400) + req.params.id };
    items.set(req.params.id, item);
  }
  res.json(item);
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
