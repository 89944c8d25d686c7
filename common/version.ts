import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * apptrace's own version, from its package.json: the first one above this file, which
 * is the package root both in the repository (common/ or dist/common/) and in an
 * installed copy (node_modules/apptrace/dist/common/).
 *
 * @example `apptrace-proxy --version` prints `apptrace-proxy 0.1.0`
 */
export function apptraceVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const path = join(dir, 'package.json');
    if (existsSync(path)) {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'apptrace' && typeof pkg.version === 'string') return pkg.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** Whether the command line asks for the version alone (`--version`, `-V`), before any sub-command. */
export function wantsVersion(argv: readonly string[]): boolean {
  return argv[0] === '--version' || argv[0] === '-V';
}
