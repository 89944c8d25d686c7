/**
 * The project's one error type. Each error has a stable `code` and a message that tells
 * the user what to do; the two places that turn errors into answers — the CLI runner
 * (common/cli-runner.ts: exit codes) and the UI's `onError` (ui/error-answer.ts: HTTP
 * answers) — read `exitCode` and `httpStatus` here instead of deciding again.
 */
export type ErrorCode =
  | 'BAD_FLAG' // a command-line flag, env variable or config value is wrong
  | 'BAD_REQUEST' // an HTTP request to the API is malformed (a query, a body)
  | 'BAD_SNAPSHOT' // a file or stream is not a usable heap snapshot
  | 'SNAPSHOT_ABORTED' // a snapshot was cut off (target died, connection lost)
  | 'PORT_IN_USE'
  | 'NO_INSPECTOR' // the target has no inspector where we looked
  | 'NOT_INSPECTOR' // something answers where the inspector should be, but it is not one
  | 'PROFILER_FAILED' // the sidecar profiler could not start or stopped
  | 'STORE_UNREADABLE' // the record store exists but cannot be read
  | 'CHECK_NOT_RUN' // `apptrace-proxy check` could not run (not a leak: exit 2)
  | 'STORE_LOCKED' // another profiler writes that record store
  | 'LOW_MEMORY' // a snapshot was skipped: the machine has not the memory it needs
  | 'NOT_FOUND'
  | 'INTERNAL'; // anything else: a bug, reported with its stack

export class AppError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
  }

  /** Exit status for a command that stops on this error: 2 for bad input, 1 otherwise. */
  get exitCode(): number {
    return this.code === 'BAD_FLAG' || this.code === 'BAD_SNAPSHOT' || this.code === 'CHECK_NOT_RUN' ? 2 : 1;
  }

  get httpStatus(): 400 | 404 | 500 | 502 | 503 {
    switch (this.code) {
      case 'BAD_FLAG':
      case 'BAD_REQUEST':
        return 400;
      case 'NOT_FOUND':
        return 404;
      case 'NO_INSPECTOR':
      case 'NOT_INSPECTOR':
      case 'SNAPSHOT_ABORTED':
      case 'LOW_MEMORY':
        return 503;
      default:
        return 500;
    }
  }
}

export function isAppError(error: unknown, code?: ErrorCode): error is AppError {
  return error instanceof AppError && (code === undefined || error.code === code);
}

/** `error` itself when it is an AppError; anything else as an INTERNAL one that keeps it as its cause. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  return new AppError('INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
}
