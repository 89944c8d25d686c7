import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startProcess, stopAll, type RunningProcess } from '../../test/processes.js';
import { InspectorSession, type AttachedTarget } from './session.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/graceful-exit.cjs', import.meta.url));
/** What a supervisor (docker compose, the demo's) waits before SIGKILL; generous on a loaded machine. */
const KILL_DEADLINE_MS = 5_000;

async function startTarget(inspectPort: number): Promise<{ target: RunningProcess; port: number }> {
  const target = startProcess('graceful-exit', process.execPath, [`--inspect=127.0.0.1:${inspectPort}`, FIXTURE]);
  const [, port] = await target.waitFor(/Debugger listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
  await target.waitFor(/listening on \d+/);
  return { target, port: Number(port) };
}

function nextAttach(session: InspectorSession): Promise<AttachedTarget> {
  return new Promise((resolve) => session.once('attached', resolve));
}

/** SIGTERM, then the exit code if the process ended by itself before the deadline, else 'killed'. */
async function terminate(target: RunningProcess): Promise<number | string> {
  target.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'killed'>((resolve) => {
    timer = setTimeout(() => {
      target.child.kill('SIGKILL');
      resolve('killed');
    }, KILL_DEADLINE_MS);
  });
  const result = await Promise.race([target.exited, deadline]);
  clearTimeout(timer);
  await target.exited;
  return result;
}

describe('InspectorSession and a target that exits gracefully', () => {
  let session: InspectorSession | undefined;
  afterEach(async () => {
    await session?.close();
    session = undefined;
    await stopAll();
  });

  it('lets go when Node waits for the debugger to disconnect, then attaches to the restarted target', async () => {
    const first = await startTarget(0);
    session = new InspectorSession({
      host: '127.0.0.1',
      port: first.port,
      moduleName: () => undefined,
      retry: { minMs: 50, maxMs: 200 },
    });
    const attached = nextAttach(session);
    session.start();
    const before = await attached;

    const detached = new Promise<string>((resolve) => session!.once('detached', resolve));
    expect(await terminate(first.target)).toBe(0);
    // Node did wait for us: without letting go, the exit above would have hit the deadline.
    expect(first.target.output()).toContain('Waiting for the debugger to disconnect');
    expect(await detached).toBe(before.id);

    // A restart on the same inspector port (node --watch, a container restart): the reconnect loop attaches again.
    const reattached = nextAttach(session);
    const second = await startTarget(first.port);
    const after = await reattached;
    expect(after.id).not.toBe(before.id);
    expect(session.state).toBe('connected');
    expect(await terminate(second.target)).toBe(0);
  });
});
