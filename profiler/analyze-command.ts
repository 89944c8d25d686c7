/** `apptrace-profiler analyze FILE ...` — placeholder until the heap engine lands. */
export async function runAnalyzeCommand(_argv: string[]): Promise<number> {
  process.stderr.write('apptrace-profiler analyze: not implemented yet\n');
  return 1;
}
