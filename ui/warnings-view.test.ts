import { describe, expect, it } from 'vitest';
import { BASE_PATH, createApp } from './app.js';
import { MemoryDeps } from '../test/memory-deps.js';
import { sampleRecords } from '../test/sample-records.js';
import { NOTHING_TRACED, SUSPECTS_LATER } from './warnings-view.js';

async function page(deps: MemoryDeps): Promise<string> {
  return (await createApp(deps).request(BASE_PATH)).text();
}

describe('setup warnings on the overview page (server-rendered)', () => {
  it('none: the notice is hidden and the empty suspects say they come later', async () => {
    const deps = new MemoryDeps();
    const body = await page(deps);
    expect(body).toMatch(/<section id="warnings" class="notice warn" hidden>/);
    expect(body).toContain(SUSPECTS_LATER);
  });

  it('lists each warning, escaped, and the empty suspects say that nothing is traced', async () => {
    const deps = new MemoryDeps({
      warnings: [
        { code: 'TRACE_MODULE_UNMATCHED', message: '--trace-module "<src>/**" matches none of the 12 scripts' },
        { code: 'TARGET_UNVERIFIED', message: 'cannot verify that pid 7 serves 127.0.0.1:3000' },
      ],
    });
    for (const record of sampleRecords({ count: 2 })) deps.add(record);
    const body = await page(deps);
    expect(body).toMatch(/<section id="warnings" class="notice warn">/);
    expect(body).toContain(
      '<li data-code="TRACE_MODULE_UNMATCHED">--trace-module &quot;&lt;src&gt;/**&quot; matches none of the 12 scripts</li>',
    );
    expect(body).toContain('<li data-code="TARGET_UNVERIFIED">cannot verify that pid 7 serves 127.0.0.1:3000</li>');
    expect(body).toContain(NOTHING_TRACED.replace(/"/g, '&quot;'));
    expect(body).not.toContain(SUSPECTS_LATER);
  });

  it('the status API carries them', async () => {
    const warnings = [{ code: 'TARGET_UNVERIFIED' as const, message: 'cannot verify' }];
    const res = await createApp(new MemoryDeps({ warnings })).request(`${BASE_PATH}/api/status`);
    expect(((await res.json()) as { warnings: unknown }).warnings).toEqual(warnings);
  });
});
