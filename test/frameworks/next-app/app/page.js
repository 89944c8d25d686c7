export default function Home() {
  return (
    <main>
      <h1>Items</h1>
      <p>GET /api/items records one visit per request.</p>
    </main>
  );
}
