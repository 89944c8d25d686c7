import type { ProfilerStatus } from './deps.js';
import { html, type Html } from './html.js';

/**
 * The setup warnings of the status (ProfilerStatus.warnings: the inspected process may not
 * be the target's, a --trace-module that matches no loaded script) as a notice under the
 * status strip, and the words of the empty suspects table. ui/client/overview.js renders
 * the same from each `status` event (renderWarnings; keep the words in step).
 */
export function setupWarnings(status: ProfilerStatus): Html {
  const warnings = status.warnings ?? [];
  return html`<section id="warnings" class="notice warn"${warnings.length > 0 ? '' : html` hidden`}>
  <h2>Check the setup</h2>
  <ul id="warnings-list">${warnings.map((w) => html`<li data-code="${w.code}">${w.message}</li>`)}</ul>
</section>`;
}

export const SUSPECTS_LATER = 'Suspects appear after a few records.';
export const NOTHING_TRACED = 'No suspects: --trace-module matches none of the scripts the app has loaded (see "Check the setup" above).';

export function suspectsEmptyText(status: ProfilerStatus): string {
  return (status.warnings ?? []).some((w) => w.code === 'TRACE_MODULE_UNMATCHED') ? NOTHING_TRACED : SUSPECTS_LATER;
}
