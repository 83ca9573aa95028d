import { useEffect, useState } from 'preact/hooks';
import { whenUnauthorized } from './api.js';
import { Layout } from './components/layout.js';
import { Notice } from './components/notice.js';
import { AuditPage } from './pages/audit.js';
import { FleetPage } from './pages/fleet.js';
import { KeysPage } from './pages/keys.js';
import { OverviewPage } from './pages/overview.js';
import { SettingsPage } from './pages/settings.js';
import { SignInPage } from './pages/sign-in.js';
import { UsagePage } from './pages/usage.js';
import { navigate, useRoute } from './router.js';
import { can, loadSession, signOut } from './session.js';
import type { Session } from './types.js';

/**
 * The console: probes the session, then shows the page the hash names, or sign-in. A 401 from any
 * call, or the session's end time passing, sends the app to sign-in.
 */
export function App() {
  const route = useRoute();
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [failure, setFailure] = useState<string | null>(null);

  useEffect(() => {
    whenUnauthorized((message) => {
      setSession(null);
      navigate('sign-in', { error: message || 'Your session has ended: sign in again.' });
    });
    loadSession().then(setSession, (e: unknown) => setFailure(e instanceof Error ? e.message : String(e)));
  }, []);

  // A session past its end is over even before the server says so.
  useEffect(() => {
    if (!session) return undefined;
    const left = session.expiresAt - Date.now();
    const t = setTimeout(() => {
      setSession(null);
      navigate('sign-in', { error: 'Your session has ended: sign in again.' });
    }, Math.max(0, Math.min(left, 2 ** 31 - 1)));
    return () => clearTimeout(t);
  }, [session]);

  useEffect(() => {
    // The 401 handler may have just set #/sign-in?error=… (its hashchange not seen yet): keep it.
    if (session === null && route.page !== 'sign-in' && !location.hash.startsWith('#/sign-in')) navigate('sign-in');
    if (session && route.page === 'sign-in') navigate('overview');
  }, [session, route.page]);

  useEffect(() => {
    const title = route.page === 'sign-in' ? 'Sign in' : route.page[0]!.toUpperCase() + route.page.slice(1);
    document.title = `${title} · Gatehouse console`;
  }, [route.page]);

  if (failure) {
    return (
      <main id="main" class="centered">
        <h1>Gatehouse console</h1>
        <Notice kind="error">The console could not start: {failure}</Notice>
      </main>
    );
  }
  if (session === undefined) return <main id="main" class="centered"><p class="boot">Loading…</p></main>;
  if (session === null || route.page === 'sign-in') return <SignInPage params={route.params} onSession={setSession} />;

  const out = async () => {
    await signOut().catch(() => undefined);
    setSession(null);
    navigate('sign-in');
  };
  const role = session.role;
  let page;
  switch (route.page) {
    case 'keys': page = <KeysPage role={role} />; break;
    case 'usage': page = <UsagePage params={route.params} />; break;
    case 'audit': page = <AuditPage />; break;
    case 'fleet': page = <FleetPage />; break;
    case 'settings': page = can.seeSettings(role) ? <SettingsPage /> : <Notice kind="error">Settings are for the admin role.</Notice>; break;
    default: page = <OverviewPage />;
  }
  return <Layout session={session} page={route.page} onSignOut={out}>{page}</Layout>;
}
