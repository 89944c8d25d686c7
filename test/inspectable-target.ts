import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

/**
 * For tests: starts a fixture script with `--inspect=127.0.0.1:0` (and `nodeFlags`) and
 * resolves once its inspector port is known and it has printed `ready`. Its stdin stays
 * open: the snapshot-writing fixtures keep running until it is ended (`stop`).
 *
 * @example
 *   const target = await startInspectableTarget([join(fixtures, 'write-entries-snapshot.mjs'), '-']);
 *   const client = await CDP({ host: '127.0.0.1', port: target.port });
 *   ...
 *   target.stop();
 */
export function startInspectableTarget(
  args: string[],
  nodeFlags: string[] = [],
): Promise<{ port: number; child: ChildProcess; stop(): void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, '--inspect=127.0.0.1:0', ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const stop = () => {
      child.stdin?.end();
      child.kill();
    };
    let stdout = '';
    let stderr = '';
    let port = 0;
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`target did not start:\n${stdout}\n${stderr}`));
    }, 15_000);
    const check = () => {
      port ||= Number(/ws:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)?.[1] ?? 0);
      if (port && stdout.includes('ready')) {
        clearTimeout(timer);
        resolve({ port, child, stop });
      }
    };
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      check();
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      check();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`target exited (${code}):\n${stdout}\n${stderr}`));
    });
  });
}
