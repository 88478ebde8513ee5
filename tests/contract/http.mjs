// http.mjs -- the two ways the Node tests talk to the server: fetch for
// ordinary requests, and a raw socket for what fetch will not send (two
// Host headers, a path with dot segments left as they are).
import { connect } from 'node:net';

/**
 * One request with fetch. opts: method, token (a bearer token), json (a
 * value sent as JSON), body (a string sent as it is), contentType,
 * headers. Returns { status, headers (lower-case names), body (Buffer) }.
 */
export async function send(base, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = opts.contentType || 'application/json';
  } else if (opts.body !== undefined) {
    body = opts.body;
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
  }
  const r = await fetch(base + path, { method: opts.method || 'GET', headers, body, redirect: 'manual' });
  const out = { status: r.status, headers: {}, body: Buffer.from(await r.arrayBuffer()) };
  r.headers.forEach((v, k) => (out.headers[k] = v));
  return out;
}

/**
 * Send the bytes of one HTTP/1.1 request as they are and read the answer
 * up to the end of the connection (the request should ask for
 * `Connection: close`, or be one the server closes).
 */
export function raw(port, text, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = connect(port, '127.0.0.1', () => sock.end(text));
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('raw request timed out'));
    }, timeoutMs);
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP response: ${JSON.stringify(all.toString('latin1'))}`));
      const [statusLine, ...lines] = all.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!m) return reject(new Error(`bad status line ${statusLine}`));
      const headers = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      let body = all.subarray(end + 4);
      if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
      resolve({ status: Number(m[1]), headers, body });
    });
  });
}
