// Express 5 + express-session with its default MemoryStore: every request without a
// cookie gets a new session, and the store keeps them all (issue #10).
const express = require('express');
const session = require('express-session');

const app = express();

// saveUninitialized: a session is stored even when the handler puts nothing in it.
app.use(
  session({
    secret: 'apptrace-fixture',
    resave: false,
    saveUninitialized: true,
  }),
);

app.get('/visit', (req, res) => {
  req.session.visits = (req.session.visits || 0) + 1;
  res.send('ok');
});

const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on ${server.address().port}`);
});
