import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type CDP from 'chrome-remote-interface';

/**
 * Is the process behind the inspector the one that serves `--target`? When the app's
 * `--inspect` port is already taken (another Node process holds 9229; the app prints
 * "Starting inspector on … failed: address already in use" and runs without one), the
 * profiler would otherwise attach to that other process and record its heap for the
 * app's requests.
 *
 * Two questions, each answered where it can be:
 * 1. The inspected process itself is asked which TCP ports its servers listen on
 *    (Runtime.evaluate over its active handles). Works across containers: it holds the
 *    target's port → verified.
 * 2. Otherwise, on Linux, the owner of the listening sockets is read from
 *    /proc/net/tcp{,6} and /proc/<pid>/fd. When the inspector's own port belongs to the
 *    inspected pid (so both share this machine's process and network namespaces) and the
 *    target's port belongs to another pid → a different process: refused. Anything
 *    less certain (the target in another container, a port mapping, no /proc) is a
 *    warning that it could not be verified, and profiling goes on.
 */
export type TargetCheck =
  | { verdict: 'verified' }
  /** `settling`: this machine shows the inspector's socket as the process's own, and nothing serves the target's port yet (an app still starting). */
  | { verdict: 'unverified'; message: string; settling?: boolean }
  | { verdict: 'other-process'; message: string };

export interface TargetCheckOptions {
  target: { host: string; port: number };
  inspect: { host: string; port: number };
}

/** Evaluated in the inspected process: its pid and the ports its servers listen on (null when unknown). */
const LISTENING = `(() => {
  let ports = null;
  try {
    ports = [];
    for (const handle of process._getActiveHandles()) {
      if (!handle || handle.listening !== true || typeof handle.address !== 'function') continue;
      const address = handle.address();
      if (address && typeof address === 'object' && typeof address.port === 'number') ports.push(address.port);
    }
  } catch {
    ports = null;
  }
  return { pid: process.pid, ports, argv: process.argv.slice(1, 3).join(' ') };
})()`;

interface Inspected {
  pid: number;
  ports: number[] | null;
  argv: string;
}

export async function checkInspectedProcess(client: CDP.Client, options: TargetCheckOptions): Promise<TargetCheck> {
  const { result } = await client.Runtime.evaluate({ expression: LISTENING, returnByValue: true, silent: true });
  const value = result.value as Partial<Inspected> | undefined;
  if (!value || typeof value.pid !== 'number') {
    return {
      verdict: 'unverified',
      message: `could not ask the process behind ${address(options.inspect)} which ports it serves`,
    };
  }
  const inspected: Inspected = {
    pid: value.pid,
    ports: Array.isArray(value.ports) ? value.ports : null,
    argv: String(value.argv ?? ''),
  };
  if (inspected.ports?.includes(options.target.port)) return { verdict: 'verified' };

  const target = address(options.target);
  const who = `the process behind the inspector ${address(options.inspect)} (pid ${inspected.pid}${inspected.argv ? `, node ${inspected.argv}` : ''})`;
  const serves =
    inspected.ports === null
      ? 'its ports are unknown'
      : inspected.ports.length === 0
        ? 'it listens on no TCP port'
        : `it listens on ${inspected.ports.join(', ')}`;
  const sockets = listeningSockets();
  const inspectorOwner = sockets?.get(options.inspect.port);
  const targetOwner = sockets?.get(options.target.port);
  if (inspectorOwner === inspected.pid && targetOwner !== undefined && targetOwner !== inspected.pid) {
    return {
      verdict: 'other-process',
      message:
        `${who} is not your app: ${serves}, and ${target} is served by pid ${targetOwner}${commandOf(targetOwner)}. ` +
        `Nothing is recorded from it. Your app probably could not open its inspector because that process holds port ${options.inspect.port} ` +
        `("address already in use" in its output): stop pid ${inspected.pid}, or start your app with --inspect=127.0.0.1:PORT on a free port and pass --inspect 127.0.0.1:PORT to apptrace.`,
    };
  }
  if (inspectorOwner === inspected.pid && targetOwner === inspected.pid) return { verdict: 'verified' };
  return {
    verdict: 'unverified',
    settling: inspectorOwner === inspected.pid && targetOwner === undefined,
    message:
      `cannot verify that ${who} serves ${target}: ${serves}. Fine when a port mapping or a container is in between; ` +
      `otherwise the records are of another process: check that your app printed "Debugger listening on ws://${address(options.inspect)}/…".`,
  };
}

function address({ host, port }: { host: string; port: number }): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Local port → pid of the process holding a listening TCP socket on it, from /proc
 * (Linux; this network namespace); undefined where /proc cannot be read.
 */
function listeningSockets(): Map<number, number> | undefined {
  const inodes = new Map<string, number>();
  try {
    for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        const fields = line.trim().split(/\s+/);
        if (fields.length < 10 || fields[3] !== '0A') continue; // 0A: LISTEN
        const port = parseInt(fields[1]!.split(':')[1]!, 16);
        inodes.set(fields[9]!, port);
      }
    }
    if (inodes.size === 0) return undefined;
    const owners = new Map<number, number>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${name}/fd`);
      } catch {
        continue; // gone, or not ours to read
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${name}/fd/${fd}`);
        } catch {
          continue;
        }
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        const port = inode === undefined ? undefined : inodes.get(inode);
        if (port !== undefined && !owners.has(port)) owners.set(port, Number(name));
      }
    }
    return owners;
  } catch {
    return undefined;
  }
}

function commandOf(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' ');
    return argv ? ` (${argv})` : '';
  } catch {
    return '';
  }
}
