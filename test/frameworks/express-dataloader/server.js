// Express + DataLoader: the loader lives for the whole process and caches every key it
// was asked for, so each new user id adds a cached promise (and its user) for good.
import { writeHeapSnapshot } from 'node:v8';
import DataLoader from 'dataloader';
import express from 'express';

const users = new DataLoader(async (ids) => ids.map((id) => ({ id, name: `user ${id}`, bio: 'x'.repeat(160) + id })));

const app = express();

app.get('/users/:id', async (req, res) => {
  const user = await users.load(req.params.id);
  res.json(user);
});

// The app writes a snapshot of itself, as a user would without any inspector attached.
app.post('/write-snapshot', (req, res) => {
  const file = writeHeapSnapshot(String(req.query.file));
  res.json({ file });
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
