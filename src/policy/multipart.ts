import { randomBytes } from 'node:crypto';

/**
 * multipart/form-data bodies (/v1/audio/transcriptions), read strictly and forwarded as Gatehouse
 * rebuilds them. Go's mime/multipart, which Ollama reads them with (ParseMultipartForm, then
 * FormValue), is lenient in ways a second parser cannot safely imitate: it accepts header lines
 * ending in a bare LF, folded header lines, a preamble before the first boundary, quoted-printable
 * part bodies (decoded for the reader), RFC 2231 parameters. A request that relies on any of these
 * could read as one model here and another there (SECURITY.md, "Multipart"). So Gatehouse accepts
 * only the plain form every client writes — CRLF everywhere, one Content-Disposition per part with
 * a quoted or token `name`, an optional `filename` and `Content-Type`, nothing else — and forwards
 * not the client's bytes but a form it writes itself from the parts it read, under a boundary of
 * its own. Whatever Ollama reads is then exactly what was checked.
 */

export interface FormPart {
  name: string;
  filename: string | null;
  contentType: string | null;
  /** A view of the client's bytes. */
  data: Buffer;
}

export type FormResult = { ok: true; parts: FormPart[] } | { ok: false; reason: string };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_PARTS = 1000;
const MAX_HEADER_BLOCK = 8 * 1024;

/**
 * The boundary of a `multipart/form-data` Content-Type, or null when the header is anything but
 * plain: parameters are parsed as RFC 9110 defines them (token or quoted-string values, so a quoted
 * value may contain "; boundary=" without being one), each at most once, no RFC 2231 `*` forms.
 */
export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const params = parseParams(contentType);
  if (!params || params.value.toLowerCase() !== 'multipart/form-data') return null;
  for (const k of params.map.keys()) if (k !== 'boundary' && k !== 'charset') return null;
  const b = params.map.get('boundary');
  // RFC 2046 §5.1.1: 1-70 characters from a restricted set, not ending in a space.
  if (!b || b.length > 70 || !/^[0-9A-Za-z'()+_,\-./:=? ]+$/.test(b) || b.endsWith(' ')) return null;
  return b;
}

/** Reads every part of a form body, or says why it is not the plain form Gatehouse accepts. */
export function readForm(body: Buffer, boundary: string): FormResult {
  const delim = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  if (!body.subarray(0, delim.length).equals(delim)) return { ok: false, reason: 'multipart body must start with its boundary line (no preamble)' };
  let pos = delim.length;
  const parts: FormPart[] = [];
  for (;;) {
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) {
      // Closing delimiter: an optional CRLF may follow, nothing else.
      const rest = body.length - (pos + 2);
      if (rest === 0 || (rest === 2 && body[pos + 2] === 0x0d && body[pos + 3] === 0x0a)) return { ok: true, parts };
      return { ok: false, reason: 'multipart body has data after its closing boundary' };
    }
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) return { ok: false, reason: 'multipart boundary lines must end with CRLF' };
    pos += 2;
    if (parts.length >= MAX_PARTS) return { ok: false, reason: 'too many multipart parts' };
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd === -1 || headerEnd - pos > MAX_HEADER_BLOCK) return { ok: false, reason: 'malformed multipart part headers (each part needs headers ending in a blank CRLF line)' };
    const head = readPartHeaders(body.subarray(pos, headerEnd).toString('latin1'));
    if ('reason' in head) return { ok: false, reason: head.reason };
    const dataStart = headerEnd + 4;
    const end = delimiterAt(body, next, dataStart);
    if (end === -1) return { ok: false, reason: 'multipart body is not terminated by its boundary' };
    if (end === -2) return { ok: false, reason: 'multipart boundary lines must end with CRLF (no padding after the boundary)' };
    parts.push({ ...head, data: body.subarray(dataStart, end) });
    pos = end + next.length;
  }
}

/**
 * Where the next delimiter line starts: CRLF, `--boundary`, then CRLF or `--`. The same bytes
 * followed by anything else are part of the data (RFC 2046 §5.1.1), except space or tab, which Go
 * takes as padding before the line end: -2, refused, rather than guessed.
 */
function delimiterAt(body: Buffer, next: Buffer, from: number): number {
  for (let at = body.indexOf(next, from); at !== -1; at = body.indexOf(next, at + 1)) {
    const c = body[at + next.length];
    if (c === 0x0d || c === 0x2d || c === undefined) return at;
    if (c === 0x20 || c === 0x09) return -2;
  }
  return -1;
}

function readPartHeaders(block: string): Omit<FormPart, 'data'> | { reason: string } {
  // Header lines end in CRLF only: a bare CR or LF is where Go and a stricter reader part ways.
  if (/[\r\n]/.test(block.replace(/\r\n/g, ''))) return { reason: 'multipart part headers must use CRLF line endings (a bare CR or LF was found)' };
  let disposition: string | null = null;
  let contentType: string | null = null;
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { reason: 'malformed multipart part header line (folded lines are not accepted)' };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { reason: `malformed multipart part header name ${JSON.stringify(name.slice(0, 40))}` };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return { reason: 'multipart part header values must not hold control characters' };
    const lower = name.toLowerCase();
    if (lower === 'content-disposition') {
      if (disposition !== null) return { reason: 'a multipart part has two Content-Disposition headers' };
      disposition = value;
    } else if (lower === 'content-type') {
      if (contentType !== null) return { reason: 'a multipart part has two Content-Type headers' };
      contentType = value;
    } else {
      // Content-Transfer-Encoding above all: Go decodes quoted-printable parts for the reader.
      return { reason: `multipart part header "${name.slice(0, 40)}" is not accepted (only Content-Disposition and Content-Type)` };
    }
  }
  if (disposition === null) return { reason: 'every multipart part needs a Content-Disposition header' };
  const d = parseParams(disposition);
  if (!d || d.value.toLowerCase() !== 'form-data') return { reason: 'multipart Content-Disposition must be form-data with plain name/filename parameters (no name*=, no duplicates)' };
  for (const k of d.map.keys()) if (k !== 'name' && k !== 'filename') return { reason: `multipart Content-Disposition parameter "${k}" is not accepted` };
  const name = d.map.get('name');
  if (name === undefined || name === '') return { reason: 'every multipart part needs a name' };
  const filename = d.map.get('filename') ?? null;
  for (const v of [name, filename]) {
    // Written back inside quotes: no quote, backslash or control character to escape.
    // eslint-disable-next-line no-control-regex
    if (v !== null && /["\\\x00-\x1f\x7f]/.test(v)) return { reason: 'multipart names and file names must not contain quotes, backslashes or control characters' };
  }
  return { name, filename, contentType };
}

/**
 * `type/subtype; k=v; k="v"` as RFC 9110 §5.6.6 writes parameters. Keys are lower-cased; null for
 * anything else (a duplicate key, an RFC 2231 `k*=`, a stray character).
 */
function parseParams(header: string): { value: string; map: Map<string, string> } | null {
  const semi = header.indexOf(';');
  const value = (semi === -1 ? header : header.slice(0, semi)).trim();
  const map = new Map<string, string>();
  let rest = semi === -1 ? '' : header.slice(semi);
  const PARAM = /^[ \t]*;[ \t]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)=(?:"((?:[^"\\\r\n]|\\[^\r\n])*)"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))[ \t]*/;
  while (rest !== '') {
    const m = PARAM.exec(rest);
    if (!m) return null;
    const key = m[1]!.toLowerCase();
    if (key.endsWith('*') || map.has(key)) return null;
    map.set(key, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!);
    rest = rest.slice(m[0].length);
  }
  return value === '' ? null : { value, map };
}

/** The form as Gatehouse forwards it: the parts it read, written plainly under a fresh boundary. */
export function writeForm(parts: readonly FormPart[]): { contentType: string; body: Buffer[]; length: number } {
  let boundary: string;
  do boundary = `gatehouse-${randomBytes(16).toString('hex')}`;
  while (parts.some((p) => p.data.includes(boundary)));
  const body: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== null) head += `; filename="${p.filename}"`;
    if (p.contentType !== null) head += `\r\nContent-Type: ${p.contentType}`;
    body.push(Buffer.from(`${head}\r\n\r\n`, 'latin1'), p.data, Buffer.from('\r\n'));
  }
  body.push(Buffer.from(`--${boundary}--\r\n`));
  let length = 0;
  for (const b of body) length += b.length;
  return { contentType: `multipart/form-data; boundary=${boundary}`, body, length };
}
