/**
 * The Host allowlist of every apptrace listener (the proxy's `/_ah/apptrace*` and the
 * profiler). A page on a name the attacker controls can make the browser resolve that
 * name to 127.0.0.1 (DNS rebinding, the class of Node's CVE-2018-7160): the browser then
 * treats apptrace as that page's own origin, and only the `Host` header tells them apart.
 * Loopback names and addresses are always answered; other names only when the user adds
 * them (`--allowed-host`, `APPTRACE_ALLOWED_HOSTS`), e.g. compose's service names.
 */

/** The flag named in every refusal. */
export const ALLOWED_HOST_FLAG = '--allowed-host';

/**
 * The host name of a `Host` header (or URL host) without port and brackets, lowercased,
 * without a trailing dot; undefined when the header is missing or malformed.
 *
 * @example hostName('[::1]:8080') === '::1'; hostName('App.LOCALHOST.:80') === 'app.localhost'
 */
export function hostName(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const text = host.trim().toLowerCase();
  let name: string;
  if (/^[0-9a-f:.]*:[0-9a-f:.]*:[0-9a-f:.]*$/.test(text)) {
    // A bare IPv6 address (as --listen's host is kept): two colons at least, no port.
    name = text;
  } else if (text.startsWith('[')) {
    const m = /^\[([0-9a-f:.]+)\](?::\d+)?$/.exec(text);
    if (!m) return undefined;
    name = m[1]!;
  } else {
    const m = /^([a-z0-9._-]+)(?::\d+)?$/.exec(text);
    if (!m) return undefined;
    name = m[1]!;
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name === '' ? undefined : name;
}

/** localhost, *.localhost (RFC 6761 §6.3 reserves them for loopback), 127.0.0.0/8 and ::1. */
export function isLoopbackName(name: string): boolean {
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(name) ||
    name === '::1' ||
    name === '0:0:0:0:0:0:0:1' ||
    name === '::ffff:127.0.0.1'
  );
}

/** Normalises a name the user allows (`--allowed-host`), so that `Profiler:9300` and `[::1]` work. */
export function normaliseAllowedHost(value: string): string {
  const name = hostName(value);
  if (name === undefined)
    throw new Error('expected a host name such as profiler or apptrace.test (no scheme, no path)');
  return name;
}

/**
 * Decides whether a `Host` header is answered.
 *
 * @example
 *   const allowed = createHostCheck(['profiler']);
 *   allowed('profiler:9300') === true; allowed('evil.example:8080') === false
 */
export function createHostCheck(extra: readonly string[]): (host: string | undefined) => boolean {
  const names = new Set<string>();
  for (const value of extra) {
    const name = hostName(value);
    // A wildcard bind is not a name anyone sends.
    if (name !== undefined && name !== '0.0.0.0' && name !== '::') names.add(name);
  }
  return function isAllowedHost(host) {
    const name = hostName(host);
    return name !== undefined && (isLoopbackName(name) || names.has(name));
  };
}

/** The body of the 403 for a Host that is not allowed: what happened and the flag that allows it. */
export function forbiddenHostMessage(host: string | undefined): string {
  const name = hostName(host);
  const shown = host === undefined ? 'no Host header' : `Host ${JSON.stringify(host)}`;
  return (
    `apptrace refused a request for ${shown}: it answers only loopback names (localhost, *.localhost, 127.0.0.1, [::1]) ` +
    `and the names you allow, so that no web page can reach it under a name of its own (DNS rebinding). ` +
    (name === undefined
      ? `Open apptrace as http://127.0.0.1:PORT/_ah/apptrace.`
      : `If you open apptrace as ${name} yourself, start apptrace-proxy (or apptrace-profiler) with ${ALLOWED_HOST_FLAG} ${name} ` +
        `(or APPTRACE_ALLOWED_HOSTS=${name}).`)
  );
}

/** Headers on every apptrace response: no MIME sniffing, and no use by another origin's page. */
export const APPTRACE_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * The environment as the option parser should see it: `APPTRACE_ALLOWED_HOSTS=a,b` (the
 * documented plural) is read as the list option `--allowed-host`.
 */
export function withAllowedHostsEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const plural = env['APPTRACE_ALLOWED_HOSTS'];
  if (plural === undefined || plural === '' || (env['APPTRACE_ALLOWED_HOST'] ?? '') !== '') return env;
  return { ...env, APPTRACE_ALLOWED_HOST: plural };
}
