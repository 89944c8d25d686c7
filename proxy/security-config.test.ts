import { describe, expect, it } from 'vitest';
import { isAppError } from '../contract/errors.js';
import { parseProxyConfig } from './config.js';

/** The flags of issue #11: --allowed-host, --profiler-token, and IPv6 literals. */
const cwd = '/nonexistent-apptrace-config-dir';

function parse(argv: string[], env: NodeJS.ProcessEnv = {}) {
  return parseProxyConfig(argv, { env, cwd });
}

function failure(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parse(argv, env);
  } catch (error) {
    expect(isAppError(error, 'BAD_FLAG')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('--allowed-host', () => {
  it('takes names from the flag (repeatable, normalised) or from APPTRACE_ALLOWED_HOSTS', () => {
    expect(
      parse(['--target', '3000', '--allowed-host', 'Profiler:9300', '--allowed-host', '[::1]']).allowedHosts,
    ).toEqual(['profiler', '::1']);
    expect(parse(['--target', '3000'], { APPTRACE_ALLOWED_HOSTS: 'proxy, apptrace.test' }).allowedHosts).toEqual([
      'proxy',
      'apptrace.test',
    ]);
    expect(parse(['--target', '3000']).allowedHosts).toEqual([]);
  });

  it('refuses something that is not a host name, naming the flag', () => {
    expect(failure(['--target', '3000', '--allowed-host', 'http://evil.example/'])).toMatch(
      /--allowed-host "http:\/\/evil.example\/": expected a host name/,
    );
    expect(failure(['--target', '3000'], { APPTRACE_ALLOWED_HOSTS: 'a b' })).toMatch(
      /APPTRACE_ALLOWED_HOST.*expected a host name/,
    );
  });
});

describe('--profiler-token', () => {
  it('takes a token from APPTRACE_PROFILER_TOKEN and refuses a short one', () => {
    expect(
      parse(['--target', '3000', '--profiler', 'http://profiler:9300'], { APPTRACE_PROFILER_TOKEN: 'x'.repeat(24) })
        .profilerToken,
    ).toBe('x'.repeat(24));
    expect(failure(['--target', '3000', '--profiler-token', 'short'])).toMatch(
      /--profiler-token "short": a profiler token must be at least 16 characters/,
    );
  });
});

describe('IPv6 literals', () => {
  it('reads [::1] in --listen, --target, --inspect and --profiler, and defaults the inspector to the target host', () => {
    const config = parse(['--listen', '[::1]:8080', '--target', '[::1]:3000', '--profiler', 'http://[::1]:9300']);
    expect(config.listen).toEqual({ host: '::1', port: 8080 });
    expect(config.target).toEqual({ host: '::1', port: 3000 });
    expect(config.inspect).toBe('[::1]:9229');
    expect(config.profiler).toBe('http://[::1]:9300');
    expect(parse(['--target', '[::1]:3000', '--inspect', '[::1]:9230']).inspect).toBe('[::1]:9230');
    expect(parse(['--target', 'http://[::1]:3000/']).target).toEqual({ host: '::1', port: 3000 });
  });
});
