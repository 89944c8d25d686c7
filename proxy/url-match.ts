import { BASE_PATH } from '../contract/base-path.js';

/** Where the profiler's UI and API live (contract/base-path.ts): requests under it go to the profiler, never traced. */
export const APPTRACE_PREFIX = BASE_PATH;

/**
 * Builds the test "is this request traced?" from the --url-pattern sources. It runs on
 * every request, so it is one function with no allocation: with no pattern everything
 * outside `/_ah/apptrace*` matches; otherwise any pattern may match the path (+query).
 *
 * @example
 *   const traced = createUrlMatcher(['^/api/']);
 *   traced('/api/items?page=2'); // true
 */
export function createUrlMatcher(patterns: readonly string[]): (url: string) => boolean {
  if (patterns.length === 0) {
    return function matchEveryPath(url) {
      return !url.startsWith(APPTRACE_PREFIX);
    };
  }
  const regexes = patterns.map((p) => new RegExp(p));
  if (regexes.length === 1) {
    const only = regexes[0]!;
    return function matchOnePattern(url) {
      return only.test(url) && !url.startsWith(APPTRACE_PREFIX);
    };
  }
  return function matchAnyPattern(url) {
    for (const regex of regexes) if (regex.test(url)) return !url.startsWith(APPTRACE_PREFIX);
    return false;
  };
}

/** How the banner says what is traced. */
export function describeUrlPatterns(patterns: readonly string[]): string {
  return patterns.length === 0
    ? 'documents and API calls (not static assets, source maps, HMR nor dev-server internals such as /_next/, /@vite/)'
    : patterns.map((p) => `/${p}/`).join(', ');
}
