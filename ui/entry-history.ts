import type { Entry, HeapRecord, Suspect } from '../contract/record.js';
import { rankSuspects } from '../analyses/suspects.js';

/** One object's story for the code browser's header. */
export interface EntryHistory {
  /** The entry as the latest record that holds it describes it. */
  latest: Entry;
  /** Its line in /api/suspects (growth, verdict, history), when it is alive in the latest record. */
  suspect: Suspect | undefined;
}

/**
 * What the records say about `module · name`, or undefined when no record holds it.
 * Growth, verdict and history come from the same ranking as /api/suspects, so the
 * code browser and the suspects table never disagree.
 */
export function entryHistory(records: HeapRecord[], moduleName: string, name: string): EntryHistory | undefined {
  let latest: Entry | undefined;
  for (let i = records.length - 1; i >= 0 && !latest; i--) {
    latest = records[i]!.entries.find((e) => e.module_name === moduleName && e.name === name);
  }
  if (!latest) return undefined;
  const suspect = rankSuspects(records).find((s) => s.module_name === moduleName && s.name === name);
  return { latest, suspect };
}
