#!/usr/bin/env node
/**
 * `apptrace-profiler`: `analyze FILE` runs the heap analysis offline; anything else
 * (or `serve`) starts the sidecar that attaches to a target's inspector.
 */
import { AppError } from '../common/errors.js';
import { apptraceVersion, wantsVersion } from '../common/version.js';

async function main(argv: string[]): Promise<number> {
  if (wantsVersion(argv)) {
    process.stdout.write(`apptrace-profiler ${apptraceVersion()}\n`);
    return 0;
  }
  const [first, ...rest] = argv;
  if (first === 'analyze') {
    const { runAnalyzeCommand } = await import('./analyze-command.js');
    return runAnalyzeCommand(rest);
  }
  const { runServeCommand } = await import('./serve-command.js');
  return runServeCommand(first === 'serve' ? rest : argv);
}

main(process.argv.slice(2)).then(
  (code) => {
    // A server keeps the loop alive and resolves with -1: leave it running.
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof AppError) {
      process.stderr.write(`apptrace-profiler: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      process.stderr.write(`apptrace-profiler: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
