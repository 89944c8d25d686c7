/** --allocation-sites reaches the sidecar, from a flag, the environment or apptrace.config.json. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseProxyConfig } from './config.js';
import { sidecarArgs } from './sidecar.js';

const base = { target: '127.0.0.1:3000', inspect: '127.0.0.1:9229', db: 'db.json', urlPatterns: [], traceModules: [] };

describe('--allocation-sites', () => {
  it('is off by default and passes nothing to the profiler', () => {
    const config = parseProxyConfig(['--target', '3000'], { env: {}, cwd: tmpdir() });
    expect(config.allocationSites).toBe(false);
    expect(sidecarArgs({ ...base, allocationSites: config.allocationSites })).not.toContain('--allocation-sites');
  });

  it('comes from the flag, APPTRACE_ALLOCATION_SITES or "allocationSites" in the config file, and reaches the sidecar', () => {
    const dir = mkdtempSync(join(tmpdir(), 'apptrace-alloc-flag-'));
    try {
      writeFileSync(join(dir, 'apptrace.config.json'), JSON.stringify({ allocationSites: true }));
      const fromFlag = parseProxyConfig(['--target', '3000', '--allocation-sites'], { env: {}, cwd: tmpdir() });
      const fromEnv = parseProxyConfig(['--target', '3000'], {
        env: { APPTRACE_ALLOCATION_SITES: '1' },
        cwd: tmpdir(),
      });
      const fromFile = parseProxyConfig(['--target', '3000'], { env: {}, cwd: dir });
      const envOff = parseProxyConfig(['--target', '3000'], { env: { APPTRACE_ALLOCATION_SITES: 'false' }, cwd: dir });
      expect([fromFlag, fromEnv, fromFile].map((c) => c.allocationSites)).toEqual([true, true, true]);
      expect(envOff.allocationSites).toBe(false);
      expect(sidecarArgs({ ...base, allocationSites: fromFlag.allocationSites })).toContain('--allocation-sites');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
