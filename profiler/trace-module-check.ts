import type { ModuleMatcher } from './heap/module-match.js';
import { scriptPath } from './heap/module-match.js';

/**
 * When `--trace-module` patterns match none of the scripts the target has loaded, every
 * record has 0 entries and the page would only say "Suspects appear after a few
 * records". This says what is wrong instead, and names a few of the app's own scripts
 * (as module names, relative to the root) that a pattern could name.
 *
 * @example
 *   unmatchedTraceModules(['lib/**'], ['file:///app/src/a.js'], modules)
 *   // '--trace-module "lib/**" matches none of the 1 scripts … e.g. src/a.js'
 */
export function unmatchedTraceModules(
  patterns: readonly string[],
  scriptUrls: Iterable<string>,
  modules: ModuleMatcher,
  shown = 5,
): string | null {
  if (patterns.length === 0) return null;
  const own: string[] = [];
  const others: string[] = [];
  let loaded = 0;
  for (const url of new Set(scriptUrls)) {
    loaded++;
    if (modules.traced(url) !== undefined) return null;
    const path = scriptPath(url);
    if (path === undefined || /[\\/]node_modules[\\/]/.test(path)) continue;
    const name = modules.filename(url);
    (name.startsWith('../') || name.startsWith('/') ? others : own).push(name);
  }
  if (loaded === 0) return null;
  const candidates = (own.length > 0 ? own : others).sort();
  const some = candidates.slice(0, shown).join(', ');
  const more = candidates.length > shown ? ` (and ${candidates.length - shown} more)` : '';
  return (
    `--trace-module ${patterns.map((p) => JSON.stringify(p)).join(', ')} matches none of the ${loaded} scripts the app has loaded, ` +
    `so records hold no objects. Patterns are globs relative to ${modules.root}` +
    (some ? `; the app's own scripts include: ${some}${more}.` : '.')
  );
}
