import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { get as httpGet } from 'node:http';
import { isIP } from 'node:net';
import CDP from 'chrome-remote-interface';
import { AppError, isAppError } from '../../contract/errors.js';
import type { InspectorState } from '../../contract/app-deps.js';
import { checkInspectedProcess } from './target-check.js';

/**
 * One CDP session to a target's V8 inspector (chrome-remote-interface), kept alive across
 * restarts of the target: when the WebSocket closes (node --watch, nodemon, a crash) the
 * session retries with backoff and, once attached again, starts a new session id, so the
 * capture knows that the next snapshot is a baseline and that node ids changed.
 *
 * Debugger is needed for one reason: `Debugger.scriptParsed` maps the script ids found in
 * a heap snapshot to URLs. Sources of traced scripts (and of the app's scripts that name
 * a source map) are prefetched, so the entry analysis can read them synchronously. It is
 * on only while the scripts are read (at attach, after each snapshot, for a code page's
 * source) and off again at once: while V8's debugger is active, every `await` links the
 * awaited promise to the async function waiting on it (V8's promise_handled_by /
 * awaited_by symbols), so a cached promise would retain its whole request and the app's
 * numbers would be the profiler's doing. `Debugger.enable` reports every script already
 * parsed, so nothing is missed while it is off. All pauses are skipped while it is on: a
 * `debugger;` statement in the target must not freeze it because we attached. Runtime is
 * deliberately *not* enabled: with Runtime on, the inspector keeps every console
 * message's arguments alive in the target, which would look like a leak of the app.
 *
 * @example
 *   const session = new InspectorSession({ host: '127.0.0.1', port: 9229, moduleName: (url) => ... });
 *   session.on('state', (state, hint) => console.log(state, hint));
 *   session.start();
 */
export interface InspectorSessionOptions {
  host: string;
  port: number;
  /** The traced module name of a script URL, or undefined when the script is not traced. */
  moduleName: (url: string) => string | undefined;
  /** How the user starts the target, for hints: e.g. `server.js`. */
  targetHint?: string;
  /** Runs once per attach, before the target's scripts are listed (e.g. to learn its root). */
  beforeAttach?: ((client: CDP.Client) => Promise<void>) | undefined;
  /** Backoff between connection attempts, in ms. */
  retry?: { minMs: number; maxMs: number };
  /** The dev server (--target): on each attach, the inspected process must be the one serving it (target-check.ts). */
  target?: { host: string; port: number } | null;
}

export interface AttachedTarget {
  client: CDP.Client;
  /** New for every attach: node ids and script ids compare only within one. */
  id: string;
}

export declare interface InspectorSession {
  on(event: 'state', listener: (state: InspectorState, hint: string | null) => void): this;
  on(event: 'attached', listener: (target: AttachedTarget) => void): this;
  on(event: 'detached', listener: (sessionId: string) => void): this;
  on(event: 'warning', listener: (message: string | null) => void): this;
}

// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface above only types this class's events.
export class InspectorSession extends EventEmitter {
  readonly address: string;
  state: InspectorState = 'connecting';
  hint: string | null = null;
  /** The attached client and session id, or null while not connected. */
  current: AttachedTarget | null = null;
  /** Set on attach when it could not be verified that the inspected process serves the target. */
  targetWarning: string | null = null;

  readonly #options: InspectorSessionOptions;
  /** scriptId → URL of every script the target reported in this session (ids as numbers, like the snapshot's). */
  #scripts = new Map<number, string>();
  /** URL → the latest script id of that URL in this session. */
  #ids = new Map<string, number>();
  /** URL → source of traced scripts and of the app's source-mapped scripts (prefetched). */
  #sources = new Map<string, string>();
  #stopped = false;
  #timer: NodeJS.Timeout | null = null;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  /** Wanted scripts (URL → script id) whose source is still to be read. */
  #unread = new Map<string, string>();
  /** The Debugger windows, one after the other (see #debuggerWindow). */
  #windows: Promise<void> = Promise.resolve();
  /** Set when an attached process turned out not to serve the target: why it was let go. */
  #refused: string | null = null;

  constructor(options: InspectorSessionOptions) {
    super();
    this.#options = options;
    this.address = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
  }

  /** Starts the connect / reconnect loop; returns at once. */
  start(): void {
    if (this.#loop) return;
    this.#loop = this.#run();
  }

  /** Closes the session and stops reconnecting. */
  async close(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    const current = this.current;
    this.current = null;
    if (current) await current.client.close().catch(() => undefined);
    await this.#loop?.catch(() => undefined);
  }

  /** scriptId → URL for the current session (a live view; do not mutate). */
  get scriptUrls(): Map<number, string> {
    return this.#scripts;
  }

  /** URL → prefetched source of the traced and source-mapped scripts (a live view; do not mutate). */
  get sources(): Map<string, string> {
    return this.#sources;
  }

  /** The prefetched source of a traced script URL, if any. */
  source(url: string): string | undefined {
    return this.#sources.get(url);
  }

  /**
   * Brings the script list (and the prefetched sources) up to date with the target: the
   * Debugger domain is turned on (V8 then reports every script parsed so far) and off
   * again, then once more to read the sources of new scripts that are wanted. Called after
   * each snapshot, before its analysis: the scripts of that heap are all parsed by then.
   * Never rejects (a target that went away keeps what is known).
   */
  async refreshScripts(): Promise<void> {
    const client = this.current?.client;
    if (!client) return;
    await this.#debuggerWindow(client, () => []).catch(() => undefined);
    const wanted = [...this.#unread].filter(([url]) => !this.#sources.has(url));
    this.#unread.clear();
    if (wanted.length === 0) return;
    const sources = this.#sources;
    await this.#debuggerWindow(client, () =>
      wanted.map(([url, scriptId]) =>
        client.Debugger.getScriptSource({ scriptId }).then(
          ({ scriptSource }) => void sources.set(url, scriptSource),
          () => undefined,
        ),
      ),
    ).catch(() => undefined);
  }

  /**
   * Turns the Debugger domain on, sends the commands `during` makes, and turns it off, all
   * without waiting in between: the target's main thread handles the messages back to
   * back, so (short of an inspector interrupt landing between two of them) none of the
   * app's code runs while V8's debugger is active. Windows never overlap: one session's
   * disable must not cut another's commands off.
   */
  #debuggerWindow(client: CDP.Client, during: () => Promise<unknown>[]): Promise<void> {
    const run = async () => {
      const sent = [client.Debugger.enable({}), client.Debugger.setSkipAllPauses({ skip: true }), ...during()];
      const off = client.Debugger.disable();
      try {
        await Promise.all(sent);
      } finally {
        await off.catch(() => undefined);
      }
    };
    const window = this.#windows.then(run, run);
    this.#windows = window.catch(() => undefined);
    return window;
  }

  /**
   * The source of a script of this session by URL, as the target loaded it: the
   * prefetched copy, else the inspector's (Debugger.getScriptSource); undefined when the
   * target has reported no script of that URL. Never reads a file.
   */
  async scriptSource(url: string): Promise<string | undefined> {
    const cached = this.#sources.get(url);
    if (cached !== undefined) return cached;
    const scriptId = this.#ids.get(url);
    const client = this.current?.client;
    if (scriptId === undefined || !client) return undefined;
    let source: string | undefined;
    await this.#debuggerWindow(client, () => [
      client.Debugger.getScriptSource({ scriptId: String(scriptId) }).then(
        ({ scriptSource }) => void (source = scriptSource),
      ),
    ]);
    return source;
  }

  /**
   * Lets the target finish the work a request left behind before a snapshot: pending
   * microtasks and nextTicks, I/O callbacks ('finish', 'close' of the response and its
   * socket), a timer of 0 ms and the check phase after it. Without this, objects still held
   * by the request's own frames and handles are counted, and a leak's line jumps.
   */
  async idle(client: CDP.Client, timeoutMs = IDLE_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    // A target paused at a breakpoint (someone else's DevTools) never answers: the
    // snapshot goes ahead without waiting (V8 takes it while paused).
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    const evaluated = client.Runtime.evaluate({
      expression: IDLE_EXPRESSION,
      awaitPromise: true,
      returnByValue: true,
      silent: true,
      includeCommandLineAPI: false,
    });
    try {
      await Promise.race([evaluated, timeout]);
    } finally {
      clearTimeout(timer);
      evaluated.catch(() => undefined);
    }
  }

  #setState(state: InspectorState, hint: string | null): void {
    if (state === this.state && hint === this.hint) return;
    this.state = state;
    this.hint = hint;
    this.emit('state', state, hint);
  }

  async #run(): Promise<void> {
    const retry = this.#options.retry ?? { minMs: 250, maxMs: 2000 };
    let delay = retry.minMs;
    while (!this.#stopped) {
      try {
        const client = await this.#connect();
        if (this.#stopped) {
          await client.close().catch(() => undefined);
          break;
        }
        delay = retry.minMs;
        const closed = new Promise<void>((resolve) => {
          client.on('disconnect', resolve);
          // The target is exiting (its event loop ran dry or it called process.exit) and
          // Node waits for debuggers to let go before it ends: let go, or a graceful stop
          // hangs until SIGKILL. Our own close() emits no 'disconnect', hence the resolve.
          client.on('NodeRuntime.waitingForDisconnect', () => {
            void client
              .close()
              .catch(() => undefined)
              .finally(resolve);
          });
          this.#wake = resolve;
        });
        await this.#attach(client);
        await closed;
        this.#wake = null;
        const id = this.current?.id;
        this.current = null;
        if (this.#stopped) break;
        const refused = this.#refused;
        this.#refused = null;
        if (refused) {
          this.#setState('unreachable', refused);
          delay = retry.maxMs;
        } else {
          this.#setState(
            'disconnected',
            `the target's inspector at ${this.address} went away; waiting for it to come back`,
          );
        }
        if (id) this.emit('detached', id);
      } catch (error) {
        if (this.#stopped) break;
        const current = this.current;
        if (error instanceof OtherProcessError) {
          // Not the target's process: let go without a word to the capture (it never saw an
          // attach), say why, and look again now and then: the user may fix it.
          this.current = null;
          await current?.client.close().catch(() => undefined);
          this.#setState('unreachable', error.message);
          delay = retry.maxMs;
        } else if (current) {
          // Attached, then a command failed (the target died during setup): start over.
          this.current = null;
          await current.client.close().catch(() => undefined);
          this.#setState(
            'disconnected',
            `the target's inspector at ${this.address} went away while attaching; retrying`,
          );
          this.emit('detached', current.id);
        } else {
          this.#setState('unreachable', this.#explain(error));
        }
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
      this.#wake = null;
      delay = Math.min(retry.maxMs, delay * 2);
    }
  }

  async #connect(): Promise<CDP.Client> {
    const { host, port } = this.#options;
    // Node's inspector rejects a Host header that is neither an IP nor localhost, so
    // resolve names here (IPv4 first: inspectors listen on 127.0.0.1 by default).
    let ip = host;
    if (!isIP(host)) {
      try {
        ip = (await lookup(host, { family: 4 })).address;
      } catch {
        try {
          ip = (await lookup(host)).address;
        } catch (error) {
          throw new AppError('NO_INSPECTOR', `cannot resolve the inspector host ${host}`, { cause: error });
        }
      }
    }
    await probeInspector(ip, port);
    // `local: true` uses the protocol bundled with chrome-remote-interface instead of
    // fetching /json/protocol; it still asks /json/list for the WebSocket URL.
    return CDP({ host: ip, port, local: true });
  }

  async #attach(client: CDP.Client): Promise<void> {
    const id = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomUUID().slice(0, 8)}`;
    this.#scripts = new Map();
    this.#ids = new Map();
    this.#sources = new Map();
    this.#unread = new Map();
    const scripts = this.#scripts;
    const ids = this.#ids;
    const sources = this.#sources;
    const unread = this.#unread;
    client.Debugger.scriptParsed(({ scriptId, url, sourceMapURL }) => {
      if (!url || scripts !== this.#scripts) return;
      scripts.set(Number(scriptId), url);
      ids.set(url, Number(scriptId));
      // The app's source-mapped scripts too: a pattern may name their original source
      // (`src/store.ts` for `dist/store.js`), found through the map in the script's text;
      // in compose the profiler cannot read the target's files, so the inspector's copy.
      // Read once the Debugger window that reported them has closed (refreshScripts).
      const wanted = this.#options.moduleName(url) !== undefined || (Boolean(sourceMapURL) && isOwnFileScript(url));
      if (wanted && !sources.has(url)) unread.set(url, scriptId);
    });
    this.current = { client, id };
    await this.#checkTarget(client);
    await this.#options.beforeAttach?.(client);
    await this.refreshScripts();
    await client.HeapProfiler.enable();
    // Node only (not in the bundled browser protocol, hence send): ask to be told when the
    // target waits for us to disconnect before exiting. Another runtime may not know it.
    await sendUntyped(client, 'NodeRuntime.notifyWhenWaitingForDisconnect', { enabled: true }).catch(() => undefined);
    this.#setState('connected', null);
    this.emit('attached', this.current);
    this.#watchTarget(client);
  }

  /** Refuses a process that is proven not to serve the target; remembers a doubt as a warning. */
  async #checkTarget(client: CDP.Client): Promise<void> {
    const target = this.#options.target;
    const before = this.targetWarning;
    this.targetWarning = null;
    if (target) {
      const options = { target, inspect: { host: this.#options.host, port: this.#options.port } };
      let check = await checkInspectedProcess(client, options);
      // Nothing serves the target's port yet, here: an app opens its inspector before its
      // server listens. Wait a little for a clear answer before anything is recorded.
      const settleUntil = Date.now() + TARGET_SETTLE_MS;
      while (check.verdict === 'unverified' && check.settling && Date.now() < settleUntil && !this.#stopped) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        check = await checkInspectedProcess(client, options);
      }
      if (check.verdict === 'other-process') throw new OtherProcessError(check.message);
      if (check.verdict === 'unverified') this.targetWarning = check.message;
    }
    if (this.targetWarning !== before) this.emit('warning', this.targetWarning);
  }

  /**
   * While it could not be verified that the inspected process serves the target, looks
   * again now and then for a while: an app opens its inspector before its server
   * listens, and after a restart another process may have taken the inspector's port
   * while the app was still starting. Proven another process → let go (refused).
   */
  #watchTarget(client: CDP.Client): void {
    const target = this.#options.target;
    if (!target || this.targetWarning === null) return;
    const until = Date.now() + TARGET_RECHECK_FOR_MS;
    let busy = false;
    const timer = setInterval(() => {
      if (this.current?.client !== client || this.targetWarning === null || Date.now() > until) {
        clearInterval(timer);
        return;
      }
      if (busy) return;
      busy = true;
      void checkInspectedProcess(client, { target, inspect: { host: this.#options.host, port: this.#options.port } })
        .then(
          (check) => {
            if (this.current?.client !== client) return;
            if (check.verdict === 'verified') {
              this.targetWarning = null;
              this.emit('warning', null);
            } else if (check.verdict === 'other-process') {
              clearInterval(timer);
              this.#refused = check.message;
              // Our own close() emits no 'disconnect': wake the loop, which says why.
              void client.close().catch(() => undefined);
              this.#wake?.();
            }
          },
          () => undefined,
        )
        .finally(() => {
          busy = false;
        });
    }, TARGET_RECHECK_MS);
    timer.unref();
  }

  /** A hint that tells "nothing listens" apart from "something answers, not an inspector". */
  #explain(error: unknown): string {
    const code = (error as NodeJS.ErrnoException)?.code;
    const start = `start the target with node --inspect=${this.address} ${this.#options.targetHint ?? 'server.js'}`;
    if (code === 'ECONNREFUSED') return `nothing listens on ${this.address} (connection refused); ${start}`;
    if (isAppError(error) && error.code !== 'NOT_INSPECTOR') return `${error.message}; ${start}`;
    if (code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH')
      return `no answer from ${this.address} (${code}); check the address, then ${start}`;
    const why = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 120) : String(error);
    return `${this.address} answers but is not a V8 inspector (${why || code || 'unexpected answer'}); is that the app's own port? ${start}`;
  }
}

/**
 * Checks that a V8 inspector answers on ip:port before chrome-remote-interface is let
 * loose on it: CRI parses the answer of /json/list inside a callback, so a web server on
 * that port (the app's own port given by mistake) would throw an uncaught exception.
 * Node's inspector answers a plain `GET /` with 400 "WebSockets request was expected".
 */
function probeInspector(ip: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: ip, port, path: '/', timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => {
        if (res.statusCode === 400 && body.includes('WebSockets request was expected')) resolve();
        else
          reject(new AppError('NOT_INSPECTOR', `HTTP ${res.statusCode} ${res.headers['content-type'] ?? ''}`.trim()));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('no answer'), { code: 'ETIMEDOUT' })));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A server that does not speak HTTP at all.
      if (error.code?.startsWith('HPE_')) reject(new AppError('NOT_INSPECTOR', `not HTTP: ${error.code}`));
      else reject(error);
    });
  });
}

const PROBE_TIMEOUT_MS = 5_000;
/** How often, and how long after an attach, an unverified target is looked at again. */
const TARGET_RECHECK_MS = 1_000;
const TARGET_RECHECK_FOR_MS = 30_000;
/** How long an attach waits for the target's port to be served before it goes on unverified. */
const TARGET_SETTLE_MS = 5_000;
/** How long a snapshot waits for the target to become idle. */
const IDLE_TIMEOUT_MS = 2_000;
/**
 * What `idle` evaluates in the target (awaited): settles after the work a request left
 * behind. What it leaves in the target is measured by bench/idle-residue.
 */
export const IDLE_EXPRESSION = 'new Promise((r) => setImmediate(() => setTimeout(() => setImmediate(r), 0)))';

/** The inspected process is not the one serving --target (target-check.ts). */
class OtherProcessError extends Error {}

/** A file: URL outside node_modules: one of the app's own scripts. */
function isOwnFileScript(url: string): boolean {
  return url.startsWith('file:') && !/\/node_modules\//.test(url);
}

/** `client.send` for a method the bundled protocol's types do not list (Node's own domains). */
function sendUntyped(client: CDP.Client, method: string, params: object): Promise<unknown> {
  const send = client.send as unknown as (this: CDP.Client, method: string, params: object) => Promise<unknown>;
  return send.call(client, method, params);
}
