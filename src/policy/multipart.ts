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
    const name = disp ? /(?:^|;)\s*name="([^"]*)"/i.exec(disp[1]!)?.[1] : undefined;
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
