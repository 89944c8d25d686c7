import { debuglog } from 'node:util';

/**
 * `NODE_DEBUG=apptrace` writes a line to stderr at every silent fallback (WebAssembly
 * unavailable, the edges worker not used, a source map that cannot be read, a script
 * that does not parse, …): what apptrace did instead, and why. Silent otherwise.
 *
 * @example
 *   debug('source map %s not used: %s', mapUrl, why);
 */
export const debug = debuglog('apptrace');
