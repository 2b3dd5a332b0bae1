// `host:port` of a TCP listener (the API's --api-listen, --metrics-listen).

/** `host:port` or `[v6]:port`; port 0 picks a free port. */
export function parseListen(text: string, option: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`${option}: "${text}" is not host:port (e.g. 127.0.0.1:9301 or [::1]:9301)`);
  return { host: m[1] ?? m[2], port };
}
