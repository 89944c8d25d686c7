/**
 * Preloaded (`node --import`) into a benchmarked process: at exit it writes the
 * process's resource usage (peak RSS, CPU time) to the file named by
 * APPTRACE_BENCH_USAGE_FILE, so that the benchmark can measure a whole CLI run without
 * changing the CLI.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.APPTRACE_BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(
      file,
      JSON.stringify({ maxRssKb: usage.maxRSS, userUs: usage.userCPUTime, systemUs: usage.systemCPUTime }),
    );
  });
}
