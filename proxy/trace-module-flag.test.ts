/** An unbalanced `--trace-module` glob stops every command with status 2, naming it; good globs still match. */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createModuleMatcher } from '../profiler/heap/module-match.js';
import { PROFILER_CLI } from '../test/profiler-processes.js';
import { runProxyToExit } from '../test/proxy-support.js';

function runProfilerToExit(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [PROFILER_CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe.concurrent('an unbalanced --trace-module glob', () => {
  it("apptrace-proxy --trace-module '{a' exits 2 naming the pattern, before starting anything", async () => {
    const run = await runProxyToExit(['--target', '127.0.0.1:3000', '--listen', '127.0.0.1:0', '--trace-module', '{a']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--trace-module "{a"');
    expect(run.stderr).toContain("'{' is never closed");
    expect(run.stdout).not.toContain('listening');
  });

  it('a stray } from the environment exits 2 naming the variable', async () => {
    const run = await runProxyToExit(['--target', '127.0.0.1:3000'], { APPTRACE_TRACE_MODULE: 'src/**,lib/a}' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('APPTRACE_TRACE_MODULE=');
    expect(run.stderr).toContain('lib/a}');
    expect(run.stderr).toContain("'}' closes no '{'");
  });

  it('apptrace-proxy check exits 2', async () => {
    const run = await runProxyToExit([
      'check',
      '--target',
      '127.0.0.1:3000',
      '--request',
      '/',
      '--trace-module',
      'src/{a,b',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--trace-module "src/{a,b"');
  });

  it('apptrace-profiler serve and analyze exit 2', async () => {
    const serve = await runProfilerToExit(['serve', '--listen', '127.0.0.1:0', '--trace-module', '{a']);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain('--trace-module "{a"');
    const analyze = await runProfilerToExit(['analyze', 'missing.heapsnapshot', '--trace-module', '{a']);
    expect(analyze.code).toBe(2);
    expect(analyze.stderr).toContain('--trace-module "{a"');
  });

  it('balanced globs still match as before', () => {
    const modules = createModuleMatcher({ root: '/app', patterns: ['src/{store,cache}.js', 'lib/**'] });
    expect(modules.traced('/app/src/store.js')).toBe('src/store.js');
    expect(modules.traced('/app/src/cache.js')).toBe('src/cache.js');
    expect(modules.traced('/app/src/other.js')).toBeUndefined();
    expect(modules.traced('file:///app/lib/a/b.mjs')).toBe('lib/a/b.mjs');
    expect(() => createModuleMatcher({ root: '/app', patterns: ['{a'] })).toThrow(
      /--trace-module "\{a" is not a valid glob/,
    );
  });
});
