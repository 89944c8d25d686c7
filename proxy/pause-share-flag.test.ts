/** --max-pause-share reaches the sidecar; a bad value exits 2 in both commands. */
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { isAppError } from '../contract/errors.js';
import { parseProxyConfig } from './config.js';
import { sidecarArgs } from './sidecar.js';
import { killAll, runProxyToExit } from '../test/proxy-support.js';
import { runProfiler } from '../test/profiler-processes.js';

const base = { target: '127.0.0.1:3000', inspect: '127.0.0.1:9229', db: 'db.json', urlPatterns: [], traceModules: [] };

afterAll(killAll);

function argAfter(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at === -1 ? undefined : args[at + 1];
}

describe('--max-pause-share', () => {
  it('is 0.1 by default, and comes from the flag, APPTRACE_MAX_PAUSE_SHARE or the config file', () => {
    const byDefault = parseProxyConfig(['--target', '3000'], { env: {}, cwd: tmpdir() });
    const fromFlag = parseProxyConfig(['--target', '3000', '--max-pause-share', '1'], { env: {}, cwd: tmpdir() });
    const fromEnv = parseProxyConfig(['--target', '3000'], {
      env: { APPTRACE_MAX_PAUSE_SHARE: '0.25' },
      cwd: tmpdir(),
    });
    expect([byDefault.maxPauseShare, fromFlag.maxPauseShare, fromEnv.maxPauseShare]).toEqual([0.1, 1, 0.25]);
    expect(argAfter(sidecarArgs({ ...base, maxPauseShare: fromEnv.maxPauseShare }), '--max-pause-share')).toBe('0.25');
  });

  it('refuses a value that is not a share in (0, 1]', () => {
    for (const bad of ['0', '-0.5', '1.5', '10%', 'half']) {
      let error: unknown;
      try {
        parseProxyConfig(['--target', '3000', `--max-pause-share=${bad}`], { env: {}, cwd: tmpdir() });
      } catch (caught) {
        error = caught;
      }
      expect(isAppError(error, 'BAD_FLAG'), bad).toBe(true);
      expect((error as Error).message).toMatch(/--max-pause-share .*between 0 and 1/);
    }
  });

  it('a bad value exits 2 from apptrace-proxy and from apptrace-profiler', async () => {
    const proxy = await runProxyToExit(
      ['--target', '127.0.0.1:3000'],
      { APPTRACE_PROFILER_SCRIPT: '', APPTRACE_MAX_PAUSE_SHARE: '2' },
      tmpdir(),
    );
    expect(proxy.code).toBe(2);
    expect(proxy.stderr).toMatch(/APPTRACE_MAX_PAUSE_SHARE="2": expected a share of wall time between 0 and 1/);
    const profiler = await runProfiler(['serve', '--max-pause-share', '0']);
    expect(profiler.code).toBe(2);
    expect(profiler.stderr).toMatch(/--max-pause-share "0": expected a share of wall time between 0 and 1/);
  });
});
