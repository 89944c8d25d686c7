import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The secret that the proxy sends with each signal, so that only the proxy (and no web
 * page, no other local process that does not know it) can make the profiler take
 * snapshots. The proxy generates one for the profiler it starts and hands it over in the
 * environment (argv is visible to every user in `ps`); with `--profiler URL` both sides
 * are given the same one (`--profiler-token`, `APPTRACE_PROFILER_TOKEN`).
 */
export const PROFILER_TOKEN_HEADER = 'X-Apptrace-Token';
export const PROFILER_TOKEN_ENV = 'APPTRACE_PROFILER_TOKEN';

export function generateProfilerToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Compares a presented token with the expected one in constant time. */
export function tokenMatches(presented: string | undefined, expected: string | undefined): boolean {
  if (presented === undefined || expected === undefined || expected === '') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Checks a token given as a flag or in the environment. */
export function checkProfilerToken(value: string): string {
  if (value.length < 16)
    throw new Error('a profiler token must be at least 16 characters (e.g. `openssl rand -hex 24`)');
  if (!/^[\x21-\x7e]+$/.test(value)) throw new Error('a profiler token is printable ASCII without spaces');
  return value;
}
