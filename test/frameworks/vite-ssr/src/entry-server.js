// Leaks: every rendered page is kept in a module-level array, forever.
const rendered = [];

export function render(url) {
  const html = `<main><h1>${url}</h1><p>rendered ${rendered.length + 1}</p></main>`.padEnd(300, ' ');
  rendered.push({ url, html });
  return html;
}
