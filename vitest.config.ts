import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', 'dist/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes with inspectors on free ports; two cores.
    maxWorkers: 2,
    reporters: ['default', './e2e/support/summary-reporter.ts'],
  },
});
