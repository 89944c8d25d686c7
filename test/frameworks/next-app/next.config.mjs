import { fileURLToPath } from 'node:url';

/** Turbopack's root is this fixture, not the repository that contains it (it holds another lockfile). */
const root = fileURLToPath(new URL('./', import.meta.url));

export default {
  turbopack: { root },
  // The test pages need no telemetry and no dev indicator.
  devIndicators: false,
  // No AGENTS.md written into the fixture on each start.
  agentRules: false,
  experimental: { agentUpgrade: false },
};
