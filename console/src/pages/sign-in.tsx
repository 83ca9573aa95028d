import { useState } from 'preact/hooks';
import { Notice } from '../components/notice.js';
import { oidcSignInUrl, signInOptions, signInWithKey } from '../session.js';
import type { Session } from '../types.js';
import { useLoad } from '../use-load.js';

/**
 * Sign-in: a button per OpenID provider the console may use (a top-level navigation to the
 * server, which runs authorization code + PKCE), or, where none is configured, an admin key
 * exchanged once for a session (the key is not kept by the browser).
 */
export function SignInPage(props: { params: URLSearchParams; onSession: (s: Session) => void }) {
  const options = useLoad(signInOptions, []);
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const given = props.params.get('error');

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await signInWithKey(key.trim());
      setKey('');
      props.onSession(s);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" class="sign-in">
      <h1>Gatehouse console</h1>
      <h2>Sign in</h2>
      {given && <Notice kind="error">{given}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      {options.error && <Notice kind="error">{options.error.message}</Notice>}
      {options.loading && !options.data && <p class="muted">Loading…</p>}
      {options.data && (
        <>
          {options.data.oidc.length > 0 && (
            <ul class="providers">
              {options.data.oidc.map((p) => (
                <li key={p.id}>
                  <a class="button" href={oidcSignInUrl(p.id)} title={p.issuer}>Sign in with {p.label}</a>
                </li>
              ))}
            </ul>
          )}
          {options.data.key && (
            <form onSubmit={submit} class="key-form">
              <label for="admin-key">Admin key</label>
              <input id="admin-key" type="password" autocomplete="off" spellcheck={false} required
                value={key} onInput={(e) => setKey(e.currentTarget.value)} placeholder="gatehouse_…" />
              <p class="hint">A key with admin:read (viewer), admin:keys (operator) or admin. It is exchanged once for a session; the browser does not keep it.</p>
              <button type="submit" disabled={busy || !key.trim()}>{busy ? 'Signing in…' : 'Sign in'}</button>
            </form>
          )}
          {options.data.oidc.length === 0 && !options.data.key && <Notice kind="info">No way to sign in is configured.</Notice>}
        </>
      )}
    </main>
  );
}
