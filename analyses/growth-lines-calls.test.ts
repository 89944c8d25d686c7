import { describe, expect, it } from 'vitest';
import { findGrowthLines } from './growth-lines.js';

/** The 1-based lines of `source` that contain `marker`. */
function linesWith(source: string, marker: string): number[] {
  return source.split('\n').flatMap((line, i) => (line.includes(marker) ? [i + 1] : []));
}

const loaderApp = `import DataLoader from 'dataloader';
const users = new DataLoader(async (ids) => ids.map((id) => ({ id })));
export async function show(req, res) {
  const user = await users.load(req.params.id); // HANDS
  if (users.get) res.json(user);
  users.clear('stale');
  users.prime(req.params.id, user); // HANDS
  users.load; // no call
}
`;

const storeApp = `const store = new MemoryStore();
export class Sessions {
  save(id, session) {
    store.set(id, session); // HANDS
    return store.get(id);
  }
}
`;

describe('lines that hand data to a collection the app does not name', () => {
  it("marks loader.load(key) and prime(…) for growth in DataLoader's _cacheMap, not reads nor removals", () => {
    const marks = findGrowthLines(loaderApp, { name: 'users', properties: ['_cacheMap'], emitter: false });
    expect(marks.map((m) => m.line)).toEqual(linesWith(loaderApp, '// HANDS'));
    expect(marks[0]!.reason).toBe('hands data to users.load(…), which keeps it in users._cacheMap');
  });

  it("marks store.set(…) for growth in the store's own sessions", () => {
    const marks = findGrowthLines(storeApp, { name: 'store', properties: ['sessions'], emitter: false });
    expect(marks.map((m) => m.line)).toEqual(linesWith(storeApp, '// HANDS'));
  });

  it('when the source names the growing property itself, only what adds to it is marked', () => {
    const source = `const users = { byId: new Map() };\nexport function add(u) {\n  users.byId.set(u.id, u);\n  users.touch(u);\n}\n`;
    expect(findGrowthLines(source, { name: 'users', properties: ['byId'], emitter: false }).map((m) => m.line)).toEqual(
      [3],
    );
  });
});
