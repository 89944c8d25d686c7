#!/usr/bin/env node
/**
 * `apptrace-profiler`: `analyze FILE` runs the heap analysis offline; `clear` deletes the
 * records of a store; anything else
 * (or `serve`) starts the sidecar that attaches to a target's inspector.
 */
import { runCommand } from '../common/cli-runner.js';
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
  if (first === 'clear') {
    const { runClearCommand } = await import('./clear-command.js');
    return runClearCommand(rest);
  }
  const { runServeCommand } = await import('./serve-command.js');
  // The entry point is the one place that may end the process at once (see serve-command.ts).
  return runServeCommand(first === 'serve' ? rest : argv, { exit: (code) => process.exit(code) });
}

runCommand('apptrace-profiler', () => main(process.argv.slice(2))).then((code) => {
  // A server keeps the loop alive and resolves with -1: leave it running.
  if (code >= 0) process.exitCode = code;
});
