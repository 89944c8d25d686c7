/**
 * A small synthetic snapshot that takes every branch of the dominator passes (page
 * objects, shortcut/weak/WeakMap edges, owned hidden and array nodes, nodes without
 * retainers and cycles retained only by themselves, path compression), to run once
 * before the first real snapshot.
 *
 * Why: each pass is one long loop run once. V8 compiles such a loop while it runs
 * (on-stack replacement), but code after it that has never run has no type feedback,
 * so the optimized code deoptimizes there ("insufficient type feedback"), falls back
 * to the interpreter and is compiled again — for every loop of every pass. On the
 * ~100 MB benchmark snapshot that cost ~100 ms; with feedback from this graph first,
 * each pass compiles once and stays compiled.
 */

/** The snapshot's JSON text (Node 20's layout); deterministic. */
export function warmUpSnapshotText(): string {
  const N = 400;
  const UNREFERENCED = 360; // nodes from here on: no retainers (own DFS under the root)
  const CYCLE = 380; // nodes from here on: a cycle retained only by itself
  const TABLE = 7; // the WeakMap's table node
  const id = (i: number): number => i * 2 + 1;
  const strings = [
    '',
    '(GC roots)',
    'global',
    '(Document DOM trees)',
    'system / ExternalStringData',
    'system / EphemeronHashTable',
    'a',
    'b',
    'map',
    '12',
    `1 / part of key (Object @${id(20)}) -> value (Object @${id(21)}) pair in WeakMap (table @${id(TABLE)})`,
    'Object',
    'Array',
    'closure name',
    'a longer property name than thirteen',
  ];
  const S = (s: string): number => strings.indexOf(s);
  // Node types and edge types as in the meta below.
  const [HIDDEN, ARRAY, STRING, OBJECT, , CLOSURE, , , NATIVE, SYNTHETIC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const [CONTEXT, ELEMENT, PROPERTY, INTERNAL, HIDDEN_EDGE, SHORTCUT, WEAK] = [0, 1, 2, 3, 4, 5, 6];
  let seed = 12345;
  const random = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const types: number[] = [];
  const names: number[] = [];
  const edges: [number, number, number][][] = [];
  for (let i = 0; i < N; i++) {
    edges.push([]);
    if (i === 0 || i === 1 || i === 3) {
      types.push(SYNTHETIC);
      names.push(i === 0 ? S('') : i === 1 ? S('(GC roots)') : S('(Document DOM trees)'));
    } else if (i === 2) {
      types.push(OBJECT);
      names.push(S('global'));
    } else if (i === TABLE) {
      types.push(HIDDEN);
      names.push(S('system / EphemeronHashTable'));
    } else {
      const kinds = [HIDDEN, ARRAY, STRING, OBJECT, OBJECT, CLOSURE, NATIVE];
      const type = kinds[random(kinds.length)]!;
      types.push(type);
      names.push(
        type === NATIVE && random(2) === 0
          ? S('system / ExternalStringData')
          : type === ARRAY
            ? S('Array')
            : type === CLOSURE
              ? S('closure name')
              : S('Object'),
      );
    }
  }
  const named = [S('a'), S('b'), S('map'), S('12'), S('a longer property name than thirteen')];
  edges[0]!.push([SHORTCUT, S('global'), 2], [ELEMENT, 1, 1], [ELEMENT, 2, 3]);
  edges[1]!.push([ELEMENT, 1, 4], [ELEMENT, 2, 5]);
  edges[3]!.push([ELEMENT, 1, 6]);
  edges[2]!.push([PROPERTY, S('a'), TABLE], [PROPERTY, S('b'), 20], [PROPERTY, S('map'), 21]);
  const weakMapName = strings.length - 5;
  edges[TABLE]!.push([INTERNAL, weakMapName, 21]);
  edges[20]!.push([INTERNAL, weakMapName, 21]);
  for (let i = 2; i < UNREFERENCED; i++) {
    const count = random(5);
    for (let k = 0; k < count; k++) {
      const to = 2 + random(UNREFERENCED - 2);
      const type = [CONTEXT, ELEMENT, PROPERTY, INTERNAL, HIDDEN_EDGE, WEAK, SHORTCUT][random(7)]!;
      const name = type === ELEMENT || type === HIDDEN_EDGE ? random(10) : named[random(named.length)]!;
      edges[i]!.push([type, name, to]);
    }
    if (random(4) === 0) edges[i]!.push([PROPERTY, S('a'), i]); // self edge
  }
  for (let i = UNREFERENCED; i < CYCLE; i++)
    edges[i]!.push(
      [PROPERTY, S('a'), 2 + random(UNREFERENCED - 2)],
      [PROPERTY, S('b'), UNREFERENCED + random(CYCLE - UNREFERENCED)],
    );
  for (let i = CYCLE; i < N; i++)
    edges[i]!.push([PROPERTY, S('a'), i + 1 < N ? i + 1 : CYCLE], [INTERNAL, S('b'), 2 + random(UNREFERENCED - 2)]);
  const nodeValues: number[] = [];
  const edgeValues: number[] = [];
  for (let i = 0; i < N; i++) {
    nodeValues.push(types[i]!, names[i]!, id(i), 16 + random(200), edges[i]!.length, 0, 0);
    for (const [type, name, to] of edges[i]!) edgeValues.push(type, name, to * 7);
  }
  const meta = {
    node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
    node_types: [
      ['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native', 'synthetic'],
      'string',
      'number',
      'number',
      'number',
      'number',
      'number',
    ],
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [
      ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'],
      'string_or_number',
      'node',
    ],
    location_fields: ['object_index', 'script_id', 'line', 'column'],
  };
  return (
    `{"snapshot":${JSON.stringify({ meta, node_count: N, edge_count: edgeValues.length / 3 })},\n` +
    `"nodes":[${nodeValues.join(',')}],\n"edges":[${edgeValues.join(',')}],\n"locations":[],\n` +
    `"strings":${JSON.stringify(strings)}}`
  );
}
