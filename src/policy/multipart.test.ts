import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundaryOf, readForm, writeForm } from './multipart.js';

const form = (b: string, ...parts: string[]) => Buffer.from(parts.map((p) => `--${b}\r\n${p}\r\n`).join('') + `--${b}--\r\n`, 'latin1');

describe('multipart forms are read strictly and rebuilt', () => {
  it('reads the boundary the way RFC 9110 writes parameters, and nothing else', () => {
    assert.equal(boundaryOf('multipart/form-data; boundary=abc'), 'abc');
    assert.equal(boundaryOf('Multipart/Form-Data;boundary="a b:c"'), 'a b:c');
    assert.equal(boundaryOf('multipart/form-data; charset=utf-8; boundary=x'), 'x');
    for (const bad of [
      'multipart/form-data', 'multipart/mixed; boundary=x', 'multipart/form-data; boundary=a; boundary=b',
      'multipart/form-data; boundary*=x', "multipart/form-data; boundary*0=x",
      'multipart/form-data; boundary=' + 'x'.repeat(71), 'multipart/form-data; boundary=x; foo=bar', 'multipart/form-data; boundary=',
    ]) assert.equal(boundaryOf(bad), null, bad);
    // A quoted value may contain "; boundary=": it is part of the value, as Go reads it too.
    assert.equal(boundaryOf('multipart/form-data; charset="; boundary=B"; boundary=C'), 'C');
    assert.equal(boundaryOf('multipart/form-data; charset="; boundary=B"'), null);
  });

  it('reads names, file names, types and data', () => {
    const r = readForm(form('B', 'Content-Disposition: form-data; name="model"\r\n\r\nllama3', 'content-disposition: Form-Data; name=file; filename="a\\"b.wav"\r\nContent-Type: audio/wav\r\n\r\n\r\n--Bx'), 'B');
    assert.equal(r.ok, false, 'a quote in a file name cannot be written back unescaped');
    const ok = readForm(form('B', 'Content-Disposition: form-data; name="model"\r\n\r\nllama3', 'content-disposition: Form-Data; name=file; filename="a b.wav"\r\nContent-Type: audio/wav\r\n\r\n\r\n--Bx'), 'B');
    assert.ok(ok.ok);
    assert.deepEqual(ok.parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString('latin1')]), [
      ['model', null, null, 'llama3'],
      ['file', 'a b.wav', 'audio/wav', '\r\n--Bx'],
    ]);
  });

  it('refuses every construct where Go and a stricter reader could part ways', () => {
    const cases: Record<string, Buffer> = {
      'bare LF in headers': Buffer.from('--B\r\nContent-Disposition: form-data; name="model"\n\nx\r\n--B--\r\n'),
      'bare CR in headers': Buffer.from('--B\r\nContent-Disposition: form-data;\rname="model"\r\n\r\nx\r\n--B--\r\n'),
      'LF after the boundary': Buffer.from('--B\nContent-Disposition: form-data; name="model"\r\n\r\nx\r\n--B--\r\n'),
      'folded header': Buffer.from('--B\r\nContent-Disposition: form-data;\r\n name="model"\r\n\r\nx\r\n--B--\r\n'),
      'transfer encoding': form('B', 'Content-Disposition: form-data; name="model"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx'),
      'other header': form('B', 'Content-Disposition: form-data; name="model"\r\nX-Y: z\r\n\r\nx'),
      'two dispositions': form('B', 'Content-Disposition: form-data; name="model"\r\nContent-Disposition: form-data; name="x"\r\n\r\nx'),
      'RFC 2231 name': form('B', "Content-Disposition: form-data; name*=utf-8''model\r\n\r\nx"),
      'duplicate name param': form('B', 'Content-Disposition: form-data; name="a"; name="model"\r\n\r\nx'),
      'no name': form('B', 'Content-Disposition: form-data\r\n\r\nx'),
      'attachment': form('B', 'Content-Disposition: attachment; name="model"\r\n\r\nx'),
      'preamble': Buffer.from('hi\r\n--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nx\r\n--B--\r\n'),
      'epilogue': Buffer.from('--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nx\r\n--B--\r\nmore'),
      'padding after boundary': Buffer.from('--B \r\nContent-Disposition: form-data; name="model"\r\n\r\nx\r\n--B--\r\n'),
      'padding after a later boundary': Buffer.from('--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--B \r\nContent-Disposition: form-data; name="model"\r\n\r\ny\r\n--B--\r\n'),
      'unterminated': Buffer.from('--B\r\nContent-Disposition: form-data; name="model"\r\n\r\nx'),
      'no headers end': Buffer.from('--B\r\nContent-Disposition: form-data; name="model"\r\n'),
    };
    for (const [what, body] of Object.entries(cases)) assert.equal(readForm(body, 'B').ok, false, what);
  });

  it('writes the parts back under a boundary of its own that no part contains', () => {
    const r = readForm(form('B', 'Content-Disposition: form-data; name="model"\r\n\r\nllama3', 'Content-Disposition: form-data; name="file"; filename="é.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF'), 'B');
    assert.ok(r.ok);
    const out = writeForm(r.parts);
    const b = /boundary=(.*)$/.exec(out.contentType)![1]!;
    const bytes = Buffer.concat(out.body);
    assert.equal(bytes.length, out.length);
    const again = readForm(bytes, b);
    assert.ok(again.ok);
    assert.deepEqual(again.parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString('latin1')]), r.parts.map((p) => [p.name, p.filename, p.contentType, p.data.toString('latin1')]));
    assert.ok(!r.parts.some((p) => p.data.includes(b)));
  });
});
