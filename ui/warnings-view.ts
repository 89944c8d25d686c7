import type { ProfilerStatus } from '../contract/app-deps.js';
import { html, type Html } from './html.js';

/**
 * The setup warnings of the status (ProfilerStatus.warnings: the inspected process may not
 * be the target's, a --trace-module that matches no loaded script) as a notice under the
 * status strip, and the words of the empty suspects table. ui/client/overview.ts renders
 * the same from each `status` event (renderWarnings), with the words of status-view.ts.
 */
export function setupWarnings(status: ProfilerStatus): Html {
  const warnings = status.warnings ?? [];
  return html`<section id="warnings" class="notice warn"${warnings.length > 0 ? '' : html` hidden`}>
  <h2>Check the setup</h2>
  <ul id="warnings-list">${warnings.map((w) => html`<li data-code="${w.code}">${w.message}</li>`)}</ul>
</section>`;
}

export { NOTHING_TRACED, SUSPECTS_LATER, suspectsEmptyText } from './status-view.js';
