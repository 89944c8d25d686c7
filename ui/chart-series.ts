/**
 * The pure parts of the overview's charts, shared by the browser client (compiled by
 * ui/client/tsconfig.json) and unit-tested under Node: which records belong to which
 * session (a target restart starts a new one), and which small flat series are drawn as
 * one group so the one that climbs stands out. No DOM, no Node.
 */

/** A run of consecutive records of one session, by position in the record list. */
export interface SessionRun {
  /** The records' `session` id (undefined for records made before sessions were recorded). */
  id: string | undefined;
  /** 1-based number of the run, oldest first: what the page calls "session 2". */
  number: number;
  /** Positions [start, end] (inclusive) in the record list. */
  start: number;
  end: number;
  /** Record indexes of the first and last record. */
  firstIndex: number;
  lastIndex: number;
}

/**
 * The sessions of a list of records (oldest first): consecutive records with the same
 * `session` form one run; a record of another session starts the next.
 *
 * @example
 *   sessionRuns([{ index: 1, session: 'a' }, { index: 2, session: 'b' }]).length // 2
 */
export function sessionRuns(records: readonly { index: number; session?: string | undefined }[]): SessionRun[] {
  const runs: SessionRun[] = [];
  records.forEach((record, i) => {
    const last = runs[runs.length - 1];
    if (last && last.id === record.session) {
      last.end = i;
      last.lastIndex = record.index;
    } else {
      runs.push({
        id: record.session,
        number: runs.length + 1,
        start: i,
        end: i,
        firstIndex: record.index,
        lastIndex: record.index,
      });
    }
  });
  return runs;
}

/** One line of a chart: a label and one value per record shown (null: not in that record). */
export interface ChartSeries {
  label: string;
  values: (number | null)[];
}

export interface GroupOptions {
  /** A series that changes by less than this over the records shown is flat (V8's noise; the suspects' rule). */
  flatBytes?: number;
  /** ...and small when its largest value is below this share of the largest value of all series. */
  smallShare?: number;
  /** Group only when at least this many series qualify. */
  least?: number;
  /** What the series are, for the group's label (default `objects`). */
  noun?: string;
}

export interface GroupedSeries {
  /** The series drawn on their own, in the order given. */
  shown: ChartSeries[];
  /** The small flat series drawn as one line (their sum), or null when none were grouped. */
  group: ChartSeries | null;
  /** The labels of the grouped series. */
  members: string[];
}

const FLAT_BYTES = 1024;
const SMALL_SHARE = 0.05;

/**
 * Folds the series that are both flat (they change by less than `flatBytes` over the
 * records shown) and small (below `smallShare` of the chart's largest value) into one
 * series, their sum, so a dozen lines lying on top of each other near 0 B become one and
 * the line that climbs is the one the eye finds. A series that grows, however small, is
 * never grouped.
 *
 * @example
 *   groupSmallFlat(series).group?.label // '12 small flat objects (sum)'
 */
export function groupSmallFlat(series: readonly ChartSeries[], options: GroupOptions = {}): GroupedSeries {
  const flatBytes = options.flatBytes ?? FLAT_BYTES;
  const smallShare = options.smallShare ?? SMALL_SHARE;
  const least = options.least ?? 3;
  let top = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > top) top = v;
  const small: ChartSeries[] = [];
  const shown: ChartSeries[] = [];
  for (const s of series) {
    let min = Infinity;
    let max = -Infinity;
    for (const v of s.values) {
      if (v === null) continue;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const flat = max === -Infinity || max - min < flatBytes;
    if (flat && max < top * smallShare) small.push(s);
    else shown.push(s);
  }
  if (small.length < least) return { shown: series.slice(), group: null, members: [] };
  const length = Math.max(0, ...small.map((s) => s.values.length));
  const values: (number | null)[] = [];
  for (let i = 0; i < length; i++) {
    let sum: number | null = null;
    for (const s of small) {
      const v = s.values[i];
      if (v !== null && v !== undefined) sum = (sum ?? 0) + v;
    }
    values.push(sum);
  }
  return {
    shown,
    group: { label: `${small.length} small flat ${options.noun ?? 'objects'} (sum)`, values },
    members: small.map((s) => s.label),
  };
}
