import { Agent, request } from 'node:http';
import { PROFILER_TOKEN_HEADER } from '../common/profiler-token.js';
import type { SignalledRequest as RequestInfo } from '../contract/record.js';

export const SIGNAL_PATH = '/_ah/apptrace/api/signal';

/** At most this many signals wait while the profiler is slow; the rest are counted as dropped. */
const MAX_QUEUED = 10_000;
/** A profiler that accepts the POST but never answers must not hold the queue forever. */
const SIGNAL_TIMEOUT_MS = 10_000;
/**
 * Signals wait at most this long for the app's traffic to go quiet (`holdWhileBusy`): a
 * stream of requests that never pauses still gets its snapshots.
 */
export const MAX_QUIET_WAIT_MS = 3_000;

export interface SignalSenderOptions {
  /** The profiler's origin, e.g. http://127.0.0.1:9300. */
  profilerUrl: string;
  /** Where the one-line reports go (stderr in the CLI). */
  log?: (line: string) => void;
  /** The secret shared with the profiler (it refuses signals without it). */
  token?: string;
}

export interface SignalStats {
  sent: number;
  failed: number;
  dropped: number;
  batches: number;
}

/**
 * Tells the profiler that matching responses have finished, without ever making a
 * response wait: `send` only queues; one POST is in flight at a time and whatever
 * queued meanwhile goes out as a single batch when it returns
 * (`{"requests":[{method,url,status},…]}`), which is also how the profiler folds
 * signals into one snapshot. Signals wait for a quiet moment of the app's traffic
 * (`holdWhileBusy`), at most a few seconds. Failures are counted and reported once until
 * the profiler answers again, not once per request.
 */
export class SignalSender {
  readonly stats: SignalStats = { sent: 0, failed: 0, dropped: 0, batches: 0 };
  private readonly url: URL;
  // The timeout makes the agent honour the profiler's `Keep-Alive: timeout=N` hint, so an
  // idle socket is dropped before the profiler closes it.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1, timeout: 60_000 });
  private readonly log: (line: string) => void;
  private readonly token: string | undefined;
  private queue: RequestInfo[] = [];
  private inFlight = false;
  private scheduled = false;
  private failing = false;
  private closed = false;
  /** How long the app's traffic asks queued signals to wait, ms (0: send now); see holdWhileBusy. */
  private busyFor: () => number = () => 0;
  /** When the oldest signal waiting for quiet was queued (ms since epoch), or 0. */
  private heldSince = 0;
  private quietTimer: NodeJS.Timeout | null = null;

  constructor(options: SignalSenderOptions) {
    this.url = new URL(SIGNAL_PATH, options.profilerUrl);
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.token = options.token;
  }

  /**
   * Queues one finished response; returns at once. `at` (when it finished, ms since epoch)
   * lets the profiler count it in the snapshot that holds its effect, not the one running.
   */
  send(method: string, url: string, status: number, at = Date.now(), aborted = false): void {
    if (this.closed) return;
    if (this.queue.length >= MAX_QUEUED) {
      this.stats.dropped++;
      return;
    }
    this.queue.push(aborted ? { method, url, status, at, aborted } : { method, url, status, at });
    if (!this.inFlight && !this.scheduled) {
      // Responses that finish in the same turn of the event loop share one POST.
      this.scheduled = true;
      setImmediate(this.flushScheduled);
    }
  }

  /**
   * Holds queued signals while the app is busy: `busyFor()` says how many ms more to wait
   * (Infinity while requests are in flight), so that a snapshot, which freezes the app,
   * does not start while a page is still loading its scripts and styles. Held at most
   * MAX_QUIET_WAIT_MS; `poke()` when the traffic changes.
   */
  holdWhileBusy(busyFor: () => number): void {
    this.busyFor = busyFor;
  }

  /** The app's traffic changed (a request ended): held signals may go now. */
  poke(): void {
    if (this.heldSince !== 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushScheduled);
    }
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = false;
    if (this.inFlight || this.closed || this.queue.length === 0) return;
    const now = Date.now();
    if (this.heldSince === 0) this.heldSince = now;
    const wait = Math.min(this.busyFor(), this.heldSince + MAX_QUIET_WAIT_MS - now);
    if (this.quietTimer !== null) clearTimeout(this.quietTimer);
    this.quietTimer = null;
    if (wait > 0) {
      this.quietTimer = setTimeout(this.flushScheduled, wait);
      this.quietTimer.unref();
      return;
    }
    this.heldSince = 0;
    this.flush();
  };

  /** Stops sending; queued signals are dropped. */
  close(): void {
    this.closed = true;
    this.queue = [];
    if (this.quietTimer !== null) clearTimeout(this.quietTimer);
    this.agent.destroy();
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.inFlight = true;
    this.stats.batches++;
    this.post(batch, JSON.stringify({ requests: batch }), true);
  }

  private post(batch: RequestInfo[], body: string, mayRetry: boolean): void {
    const req = request(this.url, {
      method: 'POST',
      agent: this.agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        ...(this.token === undefined ? {} : { [PROFILER_TOKEN_HEADER]: this.token }),
      },
      timeout: SIGNAL_TIMEOUT_MS,
    });
    let settled = false;
    const settle = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      // Shutting down: the agent was destroyed under this request; nothing to report.
      if (this.closed) return;
      if (error === undefined) {
        this.stats.sent += batch.length;
        if (this.failing) {
          this.failing = false;
          this.log(
            `apptrace-proxy: signals reach the profiler again (${this.stats.failed} lost while it was unreachable).`,
          );
        }
      } else {
        this.stats.failed += batch.length;
        if (!this.failing) {
          this.failing = true;
          this.log(
            `apptrace-proxy: cannot signal the profiler at ${this.url.origin} (${(error as NodeJS.ErrnoException).code ?? error.message}); ` +
              'traffic still flows, but no records are taken until it answers. Further failures are counted, not shown.',
          );
        }
      }
      this.inFlight = false;
      if (this.queue.length > 0 && !this.closed) this.flushScheduled();
    };
    req.on('response', (res) => {
      res.resume();
      res.on('end', () =>
        settle(res.statusCode !== undefined && res.statusCode < 400 ? undefined : signalRefused(res.statusCode)),
      );
      res.on('error', settle);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${SIGNAL_TIMEOUT_MS / 1000} s`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // A kept-alive socket that the profiler closed just as we reused it (its idle timeout
      // and our reuse crossed): the POST almost surely never reached it, so it goes again
      // once on a fresh socket; at worst the profiler counts one batch twice.
      if (mayRetry && !settled && req.reusedSocket && error.code === 'ECONNRESET') {
        settled = true;
        this.post(batch, body, false);
        return;
      }
      settle(error);
    });
    req.end(body);
  }
}

/** Why the profiler refused a signal, with what to do when it is the token (403). */
function signalRefused(status: number | undefined): Error {
  if (status === 403) {
    return new Error(
      'HTTP 403: the profiler refused the signal token; give apptrace-proxy and the profiler the same ' +
        '--profiler-token / APPTRACE_PROFILER_TOKEN',
    );
  }
  return new Error(`HTTP ${status}`);
}
