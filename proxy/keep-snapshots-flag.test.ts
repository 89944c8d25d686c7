/** --keep-snapshots reaches the sidecar; a bad value exits 2 in both commands. */
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../contract/errors.js';
import { parseProxyConfig } from './config.js';
import { sidecarArgs } from './sidecar.js';
import { killAll, runProxyToExit } from '../test/proxy-support.js';
import { runProfiler } from '../test/profiler-processes.js';

const base = { target: '127.0.0.1:3000', inspect: '127.0.0.1:9229', db: 'db.json', urlPatterns: [], traceModules: [] };

afterAll(killAll);

describe('--keep-snapshots', () => {
  it('is 0 (off) by default and passes nothing to the profiler', () => {
    const config = parseProxyConfig(['--target', '3000'], { env: {}, cwd: tmpdir() });
    expect(config.keepSnapshots).toBe(0);
    expect(sidecarArgs({ ...base, keepSnapshots: config.keepSnapshots })).not.toContain('--keep-snapshots');
  });

  it('comes from the flag or APPTRACE_KEEP_SNAPSHOTS and reaches the sidecar', () => {
    const fromFlag = parseProxyConfig(['--target', '3000', '--keep-snapshots', '5'], { env: {}, cwd: tmpdir() });
    const fromEnv = parseProxyConfig(['--target', '3000'], { env: { APPTRACE_KEEP_SNAPSHOTS: '3' }, cwd: tmpdir() });
    expect([fromFlag.keepSnapshots, fromEnv.keepSnapshots]).toEqual([5, 3]);
    const args = sidecarArgs({ ...base, keepSnapshots: fromFlag.keepSnapshots });
    expect(args.slice(args.indexOf('--keep-snapshots'), args.indexOf('--keep-snapshots') + 2)).toEqual([
      '--keep-snapshots',
      '5',
    ]);
  });

  it('refuses a value that is not a count', () => {
    for (const bad of ['-1', 'all', '2.5']) {
      let error: unknown;
      try {
        parseProxyConfig(['--target', '3000', `--keep-snapshots=${bad}`], { env: {}, cwd: tmpdir() });
      } catch (caught) {
        error = caught;
      }
      expect(isAppError(error, 'BAD_FLAG'), bad).toBe(true);
      expect((error as Error).message).toMatch(/--keep-snapshots .*expected a number of snapshots/);
    }
  });

  it('a bad value exits 2 from apptrace-proxy and from apptrace-profiler', async () => {
    const proxy = await runProxyToExit(
      ['--target', '127.0.0.1:3000', '--keep-snapshots', 'many'],
      { APPTRACE_PROFILER_SCRIPT: '' },
      tmpdir(),
    );
    expect(proxy.code).toBe(2);
    expect(proxy.stderr).toMatch(/--keep-snapshots "many": expected a number of snapshots/);
    const profiler = await runProfiler(['serve', '--keep-snapshots', 'many']);
    expect(profiler.code).toBe(2);
    expect(profiler.stderr).toMatch(/--keep-snapshots "many": expected a number of snapshots/);
  });
});
