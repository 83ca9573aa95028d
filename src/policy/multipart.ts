/**
 * Just enough multipart/form-data parsing to read the small text fields that policy needs (the
 * `model` of /v1/audio/transcriptions) from a body that is already bounded in size. File parts are
 * skipped over, not copied.
 */

export type FormResult = { ok: true; fields: Map<string, string[]> } | { ok: false; reason: string };

export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*;/i.test(contentType)) return null;
  const m = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;]{1,70}))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

export function readFormFields(body: Buffer, boundary: string, wanted: ReadonlySet<string>): FormResult {
  const delim = Buffer.from(`--${boundary}`);
  const fields = new Map<string, string[]>();
  let pos = body.indexOf(delim);
  if (pos === -1) return { ok: false, reason: 'multipart body has no boundary line' };
  for (let parts = 0; parts < 1000; parts++) {
    pos += delim.length;
    if (body[pos] === 45 && body[pos + 1] === 45) return { ok: true, fields }; // closing "--"
    if (body[pos] === 13) pos++;
    if (body[pos] !== 10) return { ok: false, reason: 'malformed multipart boundary line' };
    pos++;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd === -1) return { ok: false, reason: 'malformed multipart part headers' };
    const headers = body.subarray(pos, headerEnd).toString('latin1');
    const next = body.indexOf(delim, headerEnd + 4);
    if (next === -1) return { ok: false, reason: 'multipart body is not terminated' };
    const disp = /^content-disposition:\s*form-data\s*;(.*)$/im.exec(headers);
    const name = disp ? dispositionName(disp[1]!) : undefined;
    if (name === null) return { ok: false, reason: 'multipart Content-Disposition parameters must be plain (no name*=, no duplicates)' };
    if (name !== undefined && wanted.has(name)) {
      // The value ends before the CRLF that precedes the next boundary.
      let end = next;
      if (body[end - 1] === 10) end--;
      if (body[end - 1] === 13) end--;
      const list = fields.get(name) ?? [];
      list.push(body.subarray(headerEnd + 4, end).toString('utf8'));
      fields.set(name, list);
    }
    pos = next;
  }
  return { ok: false, reason: 'too many multipart parts' };
}

/**
 * The `name` parameter of a Content-Disposition, read the way Go's mime.ParseMediaType reads it
 * (case-insensitive parameter names, token or quoted-string values), so Gatehouse sees the same
 * field names Ollama's FormValue does. RFC 2231 forms (`name*=`) and repeated parameters are
 * refused (null): Go decodes or rejects them, and guessing would let a field slip past policy.
 */
export function dispositionName(params: string): string | undefined | null {
  let name: string | undefined;
  const seen = new Set<string>();
  let rest = params;
  for (;;) {
    rest = rest.replace(/^[\s;]+/, '');
    if (rest === '') return name;
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))/.exec(rest);
    if (!m) return null;
    const key = m[1]!.toLowerCase();
    if (key.endsWith('*') || seen.has(key)) return null;
    seen.add(key);
    if (key === 'name') name = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    rest = rest.slice(m[0].length);
  }
}
