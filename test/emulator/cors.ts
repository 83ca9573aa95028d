// Ollama's CORS layer (gin-contrib/cors with the default OLLAMA_ORIGINS list, doc §4.3). It runs
// before the Host check. It matters to a gateway because an `Origin` that leaks upstream can turn
// a good request into an empty-body 403.

const DEFAULT_ORIGINS = [
  'http://localhost', 'https://localhost', 'http://localhost:*', 'https://localhost:*',
  'http://127.0.0.1', 'https://127.0.0.1', 'http://127.0.0.1:*', 'https://127.0.0.1:*',
  'http://0.0.0.0', 'https://0.0.0.0', 'http://0.0.0.0:*', 'https://0.0.0.0:*',
  'app://*', 'file://*', 'tauri://*', 'vscode-webview://*', 'vscode-file://*',
];

const ALLOW_HEADERS = [
  'Authorization', 'Content-Type', 'User-Agent', 'Accept', 'X-Requested-With', 'OpenAI-Beta',
  'x-stainless-arch', 'x-stainless-async', 'x-stainless-custom-poll-interval', 'x-stainless-helper-method',
  'x-stainless-lang', 'x-stainless-os', 'x-stainless-package-version', 'x-stainless-poll-helper',
  'x-stainless-retry-count', 'x-stainless-runtime', 'x-stainless-runtime-version', 'x-stainless-timeout',
];

export type CorsVerdict =
  | { kind: 'pass'; headers: Record<string, string> }
  | { kind: 'forbidden' }
  | { kind: 'preflight'; headers: Record<string, string> };

function originAllowed(origin: string): boolean {
  return DEFAULT_ORIGINS.some((rule) => {
    const star = rule.indexOf('*');
    if (star < 0) return rule === origin;
    // As read in the cors source (doc §4.3 caveat): the rule is a prefix that drops the character
    // before the `*`, so `http://localhost:*` also admits `http://localhost.evil.example`.
    return origin.startsWith(rule.slice(0, Math.max(0, star - 1)));
  });
}

export function checkCors(method: string, origin: string | undefined, host: string | undefined): CorsVerdict {
  if (!origin) return { kind: 'pass', headers: {} };
  // An Origin equal to the request's own scheme+Host is treated as same-origin.
  if (origin === `http://${host ?? ''}` || origin === `https://${host ?? ''}`) return { kind: 'pass', headers: {} };
  if (!originAllowed(origin)) return { kind: 'forbidden' };
  const base = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  if (method === 'OPTIONS') {
    return {
      kind: 'preflight',
      headers: {
        ...base,
        'Access-Control-Allow-Methods': 'GET,POST,PUT,PATCH,DELETE,HEAD',
        'Access-Control-Allow-Headers': ALLOW_HEADERS.join(','),
        'Access-Control-Max-Age': '43200',
      },
    };
  }
  return { kind: 'pass', headers: base };
}
