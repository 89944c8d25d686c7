// The leak: every request adds one visit to this module-level array, and nothing removes it.
const visits = [];

export async function GET(request) {
  visits.push({ url: request.url, at: Date.now(), payload: 'x'.repeat(200) });
  return Response.json({ count: visits.length });
}
