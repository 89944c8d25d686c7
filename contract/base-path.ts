/** Everything the profiler serves lives under this prefix; the proxy routes it to the profiler. */
export const BASE_PATH = '/_ah/apptrace';
