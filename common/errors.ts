/**
 * The project's errors. Each has a stable `code` and a message that tells the user what
 * to do; the places that turn errors into exit codes or HTTP answers read `exitCode`
 * and `httpStatus` here instead of deciding again.
 */
export type ErrorCode =
  | 'BAD_FLAG' // a command-line flag, env variable or config value is wrong
  | 'BAD_SNAPSHOT' // a file or stream is not a usable heap snapshot
  | 'SNAPSHOT_ABORTED' // a snapshot was cut off (target died, connection lost)
  | 'PORT_IN_USE'
  | 'NO_INSPECTOR' // the target has no inspector where we looked
  | 'PROFILER_FAILED' // the sidecar profiler could not start or stopped
  | 'STORE_UNREADABLE' // the record store exists but cannot be read
  | 'LOW_MEMORY' // a snapshot was skipped: the machine has not the memory it needs
  | 'NOT_FOUND';

export class AppError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
  }

  /** Exit status for a command that stops on this error: 2 for bad input, 1 otherwise. */
  get exitCode(): number {
    return this.code === 'BAD_FLAG' || this.code === 'BAD_SNAPSHOT' ? 2 : 1;
  }

  get httpStatus(): 400 | 404 | 500 | 502 | 503 {
    switch (this.code) {
      case 'BAD_FLAG':
        return 400;
      case 'NOT_FOUND':
        return 404;
      case 'NO_INSPECTOR':
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
