import { Hono } from 'hono';
import type { Context } from 'hono';
import { growthTarget, sourceGrowthLines } from '../analyses/growth-lines.js';
import type { GrowthPath, HeapRecord, MarkedLine } from '../contract/record.js';
import type { AppDeps, ModuleSource } from '../contract/app-deps.js';
import { entryHistory, type EntryHistory } from './entry-history.js';
import { formatBytes, growthText, growthTitle } from './format.js';
import { growthPathText } from './growth-text.js';
import { highlightLines } from './highlight.js';
import { escapeHtml, html, layout, raw, type Html } from './html.js';
import { sparklineSvg } from './sparkline.js';
import { CLIENT_MODULES } from './static.js';

/**
 * The code browser at {base}/code?module=M&name=X: the module's source as the target
 * loaded it (deps.moduleSource, i.e. Debugger.getScriptSource) or, for a module named
 * after a source-mapped script's original (`src/store.ts`), that original; each line an
 * element with id `L<n>`, the entry's definition line carrying `data-marked`, and the
 * entry's type, size history and growth above it.
 *
 * It never reads an arbitrary file: a module is shown only when its name is a plausible
 * module name, some record mentions it, and the target has a script by that name (or a
 * script whose source map names that original).
 */
export function codeRoutes(deps: AppDeps, base: string): Hono {
  const routes = new Hono();
  routes.get('/code', async (c) => {
    const moduleName = c.req.query('module') ?? '';
    const name = c.req.query('name') ?? '';
    if (moduleName === '') {
      return problem(c, base, 400, 'No module given', 'Open the code browser from a name in the suspects table.');
    }
    if (!isModuleName(moduleName)) {
      return problem(
        c,
        base,
        404,
        'Not a module of the target',
        `"${moduleName}" is not a module name: the code browser shows only scripts the target has loaded, named by their path relative to the app.`,
      );
    }
    const records = deps.records();
    if (!records.some((r) => r.entries.some((e) => e.module_name === moduleName))) {
      return problem(
        c,
        base,
        404,
        'Module not traced',
        `No record mentions the module "${moduleName}". The code browser shows the traced modules of the target.`,
      );
    }
    let script: ModuleSource | undefined;
    try {
      script = await deps.moduleSource(moduleName);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return problem(
        c,
        base,
        503,
        'Cannot read the source',
        `Reading "${moduleName}" from the target failed: ${message}`,
      );
    }
    if (!script) {
      return problem(
        c,
        base,
        404,
        'Module not loaded by the target',
        `The target has not loaded the module "${moduleName}" (it may have restarted without it). The code browser shows only scripts the target has loaded.`,
      );
    }
    const history = name === '' ? undefined : entryHistory(records, moduleName, name);
    // Lines that add to a growing entry, in the text shown (a .ts original: through the script it was built to).
    const shown = script;
    const suspect = history?.suspect;
    const references =
      suspect?.verdict === 'growing'
        ? await sourceGrowthLines(moduleName, growthTarget(name, suspect.growth_path), (m) =>
            m === moduleName ? Promise.resolve(shown) : deps.moduleSource(m),
          )
        : [];
    c.header('Cache-Control', 'no-store');
    return c.html(codePage(base, moduleName, name, script, history, records, references));
  });
  return routes;
}

/**
 * Module names are paths relative to the app's root, as the profiler writes them.
 * Anything absolute, with a scheme (file:, node:, http:), climbing out (`..`) or with
 * control characters is refused before the target is even asked.
 */
export function isModuleName(name: string): boolean {
  if (name.length === 0 || name.length > 1024) return false;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this test rejects.
  if (/[\u0000-\u001f\u007f]/.test(name)) return false;
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) return false;
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(name)) return false;
  return !name.split(/[\\/]/).some((segment) => segment === '..');
}

function codePage(
  base: string,
  moduleName: string,
  name: string,
  script: ModuleSource,
  history: EntryHistory | undefined,
  records: HeapRecord[],
  references: MarkedLine[],
): Html {
  // The entry's line numbers refer to its `filename`; when that differs from the module
  // (a source-mapped .ts file), the loaded script's lines would not match: mark nothing.
  const sameFile = history && history.latest.filename === moduleName;
  const lines = highlightLines(script.source);
  const marks = pageMarks(history, sameFile ?? false, moduleName, references, lines.length);
  let source = '';
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const here = marks.get(n);
    const note = here ? `<span class="mark-note">← ${here.map((m) => escapeHtml(markLabel(m))).join('; ')}</span>` : '';
    source +=
      `<div class="line" id="L${n}"${here ? ` data-marked data-mark-kind="${[...new Set(here.map((m) => m.kind))].join(' ')}"` : ''}>` +
      `<a class="ln" href="#L${n}">${n}</a><span class="src">${lines[i]}</span>${note}</div>\n`;
  }
  const body = html`<header class="top">
  <h1><a href="${base}">apptrace</a> <span class="crumb">› code</span></h1>
  <a class="back" href="${base}">← overview</a>
</header>
<section class="entry-info">
  <h2>${name === '' ? html`<code>${moduleName}</code>` : html`<code>${name}</code> <span class="muted">in</span> <code>${moduleName}</code>`}</h2>
  ${entryInfo(name, moduleName, history, sameFile ?? true, records)}
  ${growthInfo(history?.suspect?.growth_path, marks)}
  ${
    script.generatedFrom === undefined
      ? html`<p class="muted" id="source-origin">Source as the target loaded it: <code>${script.url}</code> · ${lines.length} lines</p>`
      : html`<p class="muted" id="source-origin">Original source <code>${script.url}</code>: original of <code>${script.generatedFrom}</code>, from its source map · ${lines.length} lines</p>`
  }
</section>
<div id="source" class="source">${raw(source)}</div>`;
  return layout({
    title: `${name === '' ? moduleName : `${name} · ${moduleName}`} — apptrace`,
    base,
    bodyClass: 'page-code',
    scripts: [],
    modules: [CLIENT_MODULES.code],
    body,
  });
}

function entryInfo(
  name: string,
  moduleName: string,
  history: EntryHistory | undefined,
  sameFile: boolean,
  records: HeapRecord[],
): Html | string {
  if (name === '') return '';
  if (!history) {
    return html`<p class="notice warn">No record holds an object named <code>${name}</code> in <code>${moduleName}</code>.</p>`;
  }
  const { latest, suspect } = history;
  const points = suspect?.history ?? [];
  const recent = points.slice(-12);
  return html`<dl class="facts">
    <div><dt>type</dt><dd id="entry-type">${latest.obj_type}</dd></div>
    <div><dt>defined at</dt><dd><a href="#L${latest.lineno}">${latest.filename}:${latest.lineno}</a></dd></div>
    <div><dt>size now</dt><dd>${formatBytes(suspect ? suspect.last_size : latest.dominated_size)}</dd></div>
    ${
      suspect
        ? html`<div><dt>growth</dt><dd id="entry-growth" title="${growthTitle(suspect.verdict)}">${growthText(suspect.verdict, suspect.growth_per_request)}</dd></div>
    <div><dt>verdict</dt><dd><span id="entry-verdict" class="badge ${suspect.verdict}">${suspect.verdict}</span></dd></div>
    <div><dt>history</dt><dd>${raw(
      sparklineSvg(
        points.map((p) => p.size),
        160,
        32,
      ),
    )}</dd></div>`
        : html`<div><dt>growth</dt><dd id="entry-growth">not alive in the latest record</dd></div>`
    }
  </dl>
  ${sameFile ? '' : html`<p class="notice">Defined in <code>${latest.filename}</code> (source-mapped); below is the script the target runs.</p>`}
  ${
    points.length > 0
      ? html`<details class="history"><summary>size per record (last ${recent.length} of ${points.length}; ${records.length} records in all)</summary>
    <table><thead><tr><th>record</th><th class="num">requests</th><th class="num">size</th></tr></thead><tbody>
    ${recent.map((p) => html`<tr><td>#${p.index}</td><td class="num">${p.requests}</td><td class="num">${formatBytes(p.size)}</td></tr>`)}
    </tbody></table>
  </details>`
      : ''
  }`;
}

/** A mark on a line of the code browser: why it is marked and how that is known. */
export interface PageMark {
  kind: 'definition' | MarkedLine['kind'];
  reason: string;
}

/**
 * The marked lines: the definition, the lines that add to a growing entry (found in the
 * shown source), and the suspect's other marks for this module (allocation sites).
 */
function pageMarks(
  history: EntryHistory | undefined,
  sameFile: boolean,
  moduleName: string,
  references: readonly MarkedLine[],
  lineCount: number,
): Map<number, PageMark[]> {
  const marks = new Map<number, PageMark[]>();
  const add = (line: number, mark: PageMark) => {
    if (line < 1 || line > lineCount) return;
    const list = marks.get(line) ?? [];
    if (!list.some((m) => m.kind === mark.kind && m.reason === mark.reason)) list.push(mark);
    marks.set(line, list);
  };
  if (!history) return marks;
  if (sameFile && history.latest.lineno > 0) add(history.latest.lineno, { kind: 'definition', reason: 'definition' });
  const suspect = history.suspect;
  if (suspect?.verdict !== 'growing') return marks;
  for (const found of references) add(found.line, found);
  for (const other of suspect.marked_lines ?? []) {
    if (other.kind === 'reference' || (other.module_name !== undefined && other.module_name !== moduleName)) continue;
    add(other.line, other);
  }
  return marks;
}

/** How the page names a mark: `definition`, `adds to requestLog (set) — found in the source`. */
function markLabel(mark: PageMark): string {
  if (mark.kind === 'definition') return 'definition';
  return `${mark.reason} — ${mark.kind === 'reference' ? 'found in the source' : 'allocated here (--allocation-sites)'}`;
}

/** Where the entry grows (its growth path) and the list of marked lines, above the source. */
function growthInfo(path: GrowthPath | null | undefined, marks: Map<number, PageMark[]>): Html | string {
  const list = [...marks].sort((a, b) => a[0] - b[0]);
  if (!path && list.length === 0) return '';
  return html`<div class="growth">
    ${
      path
        ? html`<p id="growth-path" class="growth-summary"><span class="muted">grows at</span> <code>${growthPathText(path)}</code></p>
    <ol class="growth-steps">${path.steps.map(
      (step, i) =>
        html`<li><code>${i === 0 ? path.expression.split(/[.[ ]/)[0] : step.edge}</code> ${step.name || step.type} · ${formatBytes(step.retained_size)} · ${step.length} held</li>`,
    )}</ol>`
        : ''
    }
    ${
      list.length > 0
        ? html`<ul id="marks" class="marks">${list.map(
            ([line, here]) =>
              html`<li><a href="#L${line}">line ${line}</a>: ${here.map((m) => html`<span class="mark-kind ${m.kind}">${markKind(m)}</span> ${m.kind === 'definition' ? '' : m.reason} `)}</li>`,
          )}</ul>`
        : ''
    }
  </div>`;
}

function markKind(mark: PageMark): string {
  if (mark.kind === 'definition') return 'definition';
  return mark.kind === 'reference' ? 'found in the source' : 'allocation site';
}

function problem(c: Context, base: string, status: 400 | 404 | 503, title: string, message: string): Response {
  c.header('Cache-Control', 'no-store');
  const body = html`<header class="top"><h1><a href="${base}">apptrace</a> <span class="crumb">› code</span></h1>
  <a class="back" href="${base}">← overview</a></header>
<section class="notice warn problem"><h2>${title}</h2><p>${message}</p></section>`;
  return c.html(
    layout({ title: `${title} — apptrace`, base, bodyClass: 'page-code', scripts: [], body }),
    status,
  ) as Response;
}
