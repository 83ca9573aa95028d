import type { Rng } from './prng.js';
import { ALLOWED_MODEL, SECRET_MODEL } from './generate-json.js';

/**
 * Adversarial multipart/form-data bodies for /v1/audio/transcriptions: a form a real client
 * sends (model, file, maybe response_format/language/prompt), then one or two tricks with the
 * boundary, line endings, part headers, transfer encodings, duplicate or nameless parts, text
 * around the parts, or the boundary string inside content.
 */

export interface FormPart {
  /** Header lines, without line endings. */
  headers: string[];
  body: Buffer;
  /** Line ending after each header line and for the blank line; the form's `nl` when absent. */
  headerNl?: string;
  /** Line ending of the boundary line that opens this part; the form's `nl` when absent. */
  boundaryNl?: string;
}

export interface FormDoc {
  boundary: string;
  contentType: string;
  /** Line ending of boundary lines and before each delimiter. */
  nl: string;
  preamble: string;
  parts: FormPart[];
  /** Transport padding after each "--boundary" (spaces/tabs Go skips). */
  pad: string;
  closing: boolean;
  epilogue: string;
}

/** A WAV header's first bytes: enough to be a non-empty "audio file". */
const AUDIO = Buffer.from('RIFF$\u0000\u0000\u0000WAVEfmt \u0010\u0000\u0000\u0000', 'latin1');

export const field = (name: string, value: string, extraHeaders: string[] = []): FormPart => ({
  headers: [`Content-Disposition: form-data; name="${name}"`, ...extraHeaders],
  body: Buffer.from(value, 'utf8'),
});

const filePart = (body: Buffer = AUDIO, filename = 'speech.wav'): FormPart => ({
  headers: [`Content-Disposition: form-data; name="file"; filename="${filename}"`, 'Content-Type: audio/wav'],
  body,
});

export function baseForm(rng: Rng): FormDoc {
  const boundary = rng.pick(['----WebKitFormBoundary7MA4YWxkTrZu0gW', 'gc0p4Jq0M2Yt08jU534c0p', 'boundary', '------------------------d74496d66958873e', 'a'.repeat(70)]);
  const parts = rng.chance(0.7) ? [field('model', ALLOWED_MODEL), filePart()] : [filePart(), field('model', ALLOWED_MODEL)];
  if (rng.chance(0.4)) parts.push(field('response_format', rng.pick(['json', 'text', 'verbose_json'])));
  if (rng.chance(0.2)) parts.push(field('language', 'en'));
  if (rng.chance(0.2)) parts.push(field('prompt', 'A talk about llamas.'));
  return { boundary, contentType: `multipart/form-data; boundary=${boundary}`, nl: '\r\n', preamble: '', parts, pad: '', closing: true, epilogue: '' };
}

export function renderForm(f: FormDoc): Buffer {
  const chunks: Buffer[] = [];
  const put = (s: string | Buffer): void => void chunks.push(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  if (f.preamble) put(f.preamble + f.nl);
  f.parts.forEach((p, i) => {
    if (i > 0) put(f.nl);
    put(`--${f.boundary}${f.pad}${p.boundaryNl ?? f.nl}`);
    const hnl = p.headerNl ?? f.nl;
    for (const h of p.headers) put(h + hnl);
    put(hnl);
    put(p.body);
  });
  if (f.closing) put(`${f.nl}--${f.boundary}--${f.nl}${f.epilogue}`);
  return Buffer.concat(chunks);
}

const modelPart = (f: FormDoc): FormPart | undefined => f.parts.find((p) => p.headers[0]?.includes('name="model"'));

/** The known finding: bare-LF part headers end where a CRLFCRLF splitter does not look. */
export function bareLfSmuggle(f: FormDoc): string {
  const secret: FormPart = { ...field('model', SECRET_MODEL), headerNl: '\n' };
  f.parts = f.parts.filter((p) => p !== modelPart(f));
  f.parts.unshift(secret, field('model', ALLOWED_MODEL));
  return 'a first "model" part whose header block ends with a bare LF, then a CRLF "model" part';
}

type FormMutation = (f: FormDoc, rng: Rng) => string;

const contentTypeTricks: FormMutation = (f, rng) => {
  const b = f.boundary;
  const [ct, label] = rng.pick([
    [`multipart/form-data; boundary="${b}"`, 'quoted boundary'],
    [`multipart/form-data; BOUNDARY=${b}`, 'param name upper case'],
    [`Multipart/Form-Data; Boundary=${b}`, 'type and param in title case'],
    [`multipart/form-data;boundary=${b}`, 'no space'],
    [`multipart/form-data; boundary=${b}; boundary=other`, 'boundary twice'],
    [`multipart/form-data; charset="utf-8; boundary=EVIL"; boundary=${b}`, 'charset whose quoted value contains "; boundary="'],
    [`multipart/form-data; boundary*=utf-8''${b}`, 'RFC 2231 boundary*='],
    [`multipart/form-data; boundary*0=${b.slice(0, 3)}; boundary*1=${b.slice(3)}`, 'RFC 2231 continuation'],
    [`multipart/form-data; boundary=${b}; charset=utf-8`, 'extra parameter'],
    ['multipart/form-data', 'no boundary'],
    [`multipart/mixed; boundary=${b}`, 'multipart/mixed'],
    [`multipart/form-data ; boundary = ${b}`, 'spaces around ='],
    [`multipart/form-data; boundary=${b};`, 'trailing semicolon'],
    [`multipart/form-data; boundary=${b.toUpperCase()}`, 'boundary in another case'],
    [`text/plain; boundary=${b}`, 'text/plain'],
    [`multipart/form-data; boundary="${b}"x`, 'junk after the quoted boundary'],
  ] as const);
  f.contentType = ct;
  return `content-type: ${label}`;
};

const lineEndings: FormMutation = (f, rng) => {
  switch (rng.int(5)) {
    case 0:
      f.nl = '\n';
      return 'every line ends with a bare LF';
    case 4: {
      const p = f.parts[f.parts.length - 1]!;
      p.boundaryNl = '\n';
      return `a bare LF ends the boundary line before the ${partLabel(p)} part (the others CRLF)`;
    }
    case 1: {
      const p = rng.pick(f.parts);
      p.headerNl = '\n';
      return `bare LF in the headers of the ${partLabel(p)} part`;
    }
    case 2: {
      const p = rng.pick(f.parts);
      p.headers = p.headers.map((h, i) => (i === 0 ? `${h}\r` : h));
      return `CR alone at the end of a header line of the ${partLabel(p)} part`;
    }
    default: {
      const p = rng.pick(f.parts);
      p.headerNl = '\r\r\n';
      return `CR CR LF after the header lines of the ${partLabel(p)} part`;
    }
  }
};

const partLabel = (p: FormPart): string => /name="?([^";]*)/.exec(p.headers[0] ?? '')?.[1] ?? 'unnamed';

const folding: FormMutation = (f, rng) => {
  const p = modelPart(f) ?? rng.pick(f.parts);
  p.headers[0] = p.headers[0]!.replace('; name=', rng.pick([';\r\n\tname=', ';\r\n name=', ';\n name=']));
  return `folded Content-Disposition in the ${partLabel(p)} part`;
};

const dispositionVariants: FormMutation = (f, rng) => {
  const p = modelPart(f);
  if (!p) return 'no model part';
  const [h, label] = rng.pick([
    ['Content-Disposition: form-data; name=model', 'token name'],
    ['Content-Disposition: form-data; NAME="model"', 'NAME='],
    ['Content-Disposition: form-data; name="mo\\del"', 'backslash escape in the name'],
    ["Content-Disposition: form-data; name*=UTF-8''model", 'name*='],
    ["Content-Disposition: form-data; name*=UTF-8''mo%64el", 'name*= with a percent escape'],
    ['Content-Disposition: form-data; name="model"; name="other"', 'name twice'],
    ['Content-Disposition: form-data; name="model"; filename=""', 'empty filename'],
    ['Content-Disposition: form-data; name="model"; filename="model.txt"', 'a filename (the value becomes a file)'],
    ['Content-Disposition: Form-Data; name="model"', 'Form-Data'],
    ['Content-Disposition: attachment; name="model"', 'attachment'],
    ['content-disposition: form-data; name="model"', 'lower-case header name'],
    ['CONTENT-DISPOSITION: form-data; name="model"', 'upper-case header name'],
    ['Content-Disposition : form-data; name="model"', 'space before the colon'],
    ['Content-Disposition: form-data; name="Model"', 'name "Model"'],
    ['Content-Disposition: form-data; name="model "', 'name with a trailing space'],
    ['Content-Disposition: form-data; name=\'model\'', 'single quotes'],
    ['Content-Disposition: form-data; name="model', 'unterminated quote'],
    ['Content-Disposition:form-data;name="model"', 'no spaces'],
  ] as const);
  p.headers[0] = h;
  return `model part ${label}`;
};

const transferEncoding: FormMutation = (f, rng) => {
  const p = modelPart(f);
  if (!p) return 'no model part';
  const [cte, body, label] = rng.pick([
    ['quoted-printable', 'secret=2Dmodel', 'quoted-printable secret-model'],
    ['Quoted-Printable', 'llama3=2E2', 'Quoted-Printable llama3.2'],
    ['quoted-printable', `${ALLOWED_MODEL}=\r\n`, 'quoted-printable soft line break'],
    ['base64', Buffer.from(SECRET_MODEL).toString('base64'), 'base64 (not decoded by Go)'],
    ['8bit', ALLOWED_MODEL, '8bit'],
  ] as const);
  p.headers.push(`Content-Transfer-Encoding: ${cte}`);
  p.body = Buffer.from(body, 'latin1');
  return `model part ${label}`;
};

const duplicateModel: FormMutation = (f, rng) => {
  const secretFirst = rng.chance(0.5);
  const extra = field('model', SECRET_MODEL);
  const at = f.parts.findIndex((p) => p === modelPart(f));
  if (secretFirst) f.parts.splice(Math.max(0, at), 0, extra);
  else f.parts.push(extra);
  return secretFirst ? 'a secret "model" part before the allowed one' : 'a secret "model" part after the allowed one';
};

const namelessParts: FormMutation = (f, rng) => {
  const [p, label] = rng.pick([
    [{ headers: ['Content-Disposition: form-data'], body: Buffer.from(SECRET_MODEL) }, 'form-data without a name'],
    [{ headers: ['Content-Type: text/plain'], body: Buffer.from(SECRET_MODEL) }, 'no Content-Disposition'],
    [{ headers: [], body: Buffer.from(SECRET_MODEL) }, 'no headers at all'],
    [{ headers: ['Content-Disposition: form-data; name=""'], body: Buffer.from(SECRET_MODEL) }, 'empty name'],
  ] as const);
  f.parts.splice(rng.int(f.parts.length + 1), 0, { headers: [...p.headers], body: p.body });
  return `a part with ${label}`;
};

const surroundingText: FormMutation = (f, rng) => {
  if (rng.chance(0.5)) {
    f.preamble = rng.pick(['This is a preamble.', `--${f.boundary}x is not a delimiter`, `Content-Disposition: form-data; name="model"\r\n\r\n${SECRET_MODEL}`]);
    return `preamble ${JSON.stringify(f.preamble.slice(0, 40))}`;
  }
  f.epilogue = rng.pick(['trailing epilogue', `--${f.boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${SECRET_MODEL}\r\n--${f.boundary}--\r\n`]);
  return 'epilogue after the closing delimiter';
};

const missingClose: FormMutation = (f, rng) => {
  f.closing = false;
  if (rng.chance(0.5)) f.epilogue = '';
  return 'no closing delimiter';
};

const transportPadding: FormMutation = (f, rng) => {
  f.pad = rng.pick([' ', '\t', ' \t ', '   ']);
  return `transport padding ${JSON.stringify(f.pad)} after each boundary`;
};

const boundaryInContent: FormMutation = (f, rng) => {
  const b = f.boundary;
  const p = modelPart(f);
  const [where, label] = rng.pick([
    ['model', `${ALLOWED_MODEL}--${b}`],
    ['model', `${ALLOWED_MODEL}\r\n--${b}x`],
    ['model', `${ALLOWED_MODEL}\r\n--${b}-`],
    ['file', `\r\n--${b}X`],
    ['file', `--${b}--`],
  ] as const);
  if (where === 'model' && p) p.body = Buffer.from(label, 'latin1');
  else {
    const file = f.parts.find((x) => x.headers[0]?.includes('name="file"'));
    if (file) file.body = Buffer.concat([file.body, Buffer.from(label, 'latin1')]);
  }
  return `boundary string inside ${where} content ${JSON.stringify(label)}`;
};

const fileVariants: FormMutation = (f, rng) => {
  const at = f.parts.findIndex((x) => x.headers[0]?.includes('name="file"'));
  const [next, label] = rng.pick([
    [filePart(Buffer.alloc(0)), 'an empty file'],
    [field('file', 'not a file'), 'a "file" field without filename'],
    [null, 'no file part'],
    [filePart(AUDIO, ''), 'an empty filename'],
    [filePart(AUDIO, '../../etc/passwd'), 'a path in the filename'],
  ] as const);
  if (at < 0) return 'no file part to change';
  if (next === null) f.parts.splice(at, 1);
  else f.parts[at] = { headers: [...next.headers], body: next.body };
  return label;
};

const modelValues: FormMutation = (f, rng) => {
  const p = modelPart(f);
  if (!p) return 'no model part';
  const v = rng.pick(['', ` ${ALLOWED_MODEL} `, `${ALLOWED_MODEL}\r`, SECRET_MODEL, `${SECRET_MODEL}:cloud`, ALLOWED_MODEL.toUpperCase(), `${ALLOWED_MODEL}\u0000`]);
  p.body = Buffer.from(v, 'utf8');
  return `model value ${JSON.stringify(v)}`;
};

const oddHeaders: FormMutation = (f, rng) => {
  const p = modelPart(f) ?? rng.pick(f.parts);
  const h = rng.pick(['X-Note: plain', 'X-Spaced Name: v', 'X-Ctl\u007f: v', 'X-Nul: a\u0000b', 'X-Tab:\tv', 'X-Bell: \u0007', 'X-Latin: caf\u00e9']);
  p.headers.push(h);
  return `extra header ${JSON.stringify(h)} in the ${partLabel(p)} part`;
};

export const FORM_MUTATIONS: readonly (readonly [FormMutation, number])[] = [
  [contentTypeTricks, 8], [lineEndings, 8], [folding, 3], [dispositionVariants, 10], [transferEncoding, 5], [duplicateModel, 6],
  [namelessParts, 4], [surroundingText, 4], [missingClose, 2], [transportPadding, 3], [boundaryInContent, 4], [fileVariants, 4],
  [modelValues, 4], [oddHeaders, 3], [(f) => bareLfSmuggle(f), 3],
];
