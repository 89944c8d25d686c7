/**
 * The one place where a command's errors become an exit status and a line on stderr,
 * for both CLIs (proxy/cli.ts, profiler/cli.ts) and `apptrace-proxy check`. Library code
 * throws AppError and never calls process.exit; only the two CLI entry points do.
 */
import { AppError } from '../contract/errors.js';

/** The exit status for what a command threw: an AppError's own (2 for bad input), else 1. */
export function exitStatusOf(error: unknown): number {
  return error instanceof AppError ? error.exitCode : 1;
}

/** The line for the user: an AppError's message says what to do; anything else is a bug, with its stack. */
export function describeFailure(error: unknown): string {
  if (error instanceof AppError) return error.message;
  return `unexpected error: ${(error as Error)?.stack ?? String(error)}`;
}

/**
 * Runs a command's `main` and resolves with its exit status: what `main` resolved with
 * (-1 for a server that keeps the process alive), or, when it threw, the status of the
 * error after writing `NAME: message` to `stderr`. Never rejects.
 *
 * @example
 *   runCommand('apptrace-profiler', () => main(argv)).then((code) => { if (code >= 0) process.exitCode = code; });
 */
export async function runCommand(
  name: string,
  main: () => Promise<number>,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  try {
    return await main();
  } catch (error) {
    stderr.write(`${name}: ${describeFailure(error)}\n`);
    return exitStatusOf(error);
  }
}
