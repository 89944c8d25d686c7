/** `apptrace-profiler [serve] ...` — placeholder until the live profiler lands. */
export async function runServeCommand(_argv: string[]): Promise<number> {
  process.stderr.write('apptrace-profiler: not implemented yet\n');
  return 1;
}
