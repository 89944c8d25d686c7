/**
 * For the check tests: runs the compiled `apptrace-proxy check` against a running
 * target (build first) and resolves with its exit status and output. No apptrace settings
 * of the machine running the tests leak in.
 */
import { spawn } from 'node:child_process';
import { projectRoot } from '../e2e/stack.js';
import { track } from './processes.js';

export interface CheckRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCheck(
  target: { appPort: number; inspectPort: number },
  args: string[],
  timeoutMs = 150_000,
): Promise<CheckRun> {
  const cli = `${projectRoot()}/dist/proxy/cli.js`;
  const child = spawn(
    process.execPath,
    [cli, 'check', '--target', `127.0.0.1:${target.appPort}`, '--inspect', `127.0.0.1:${target.inspectPort}`, ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        APPTRACE_TARGET: '',
        APPTRACE_INSPECT: '',
        APPTRACE_DB: '',
        APPTRACE_REQUEST: '',
        APPTRACE_BODY: '',
        APPTRACE_HEADER: '',
      },
    },
  );
  track(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}
