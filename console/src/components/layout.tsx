import type { ComponentChildren } from 'preact';
import type { Page } from '../router.js';
import { can } from '../session.js';
import type { Session } from '../types.js';

/** Header, navigation and the main landmark every signed-in page sits in. */

const LINKS: { page: Page; label: string; admin?: boolean }[] = [
  { page: 'overview', label: 'Overview' },
  { page: 'keys', label: 'Keys & policies' },
  { page: 'usage', label: 'Usage' },
  { page: 'audit', label: 'Audit' },
  { page: 'fleet', label: 'Fleet' },
  { page: 'settings', label: 'Settings', admin: true },
];

export function Layout(props: { session: Session; page: Page; onSignOut: () => void; children: ComponentChildren }) {
  const { session, page } = props;
  return (
    <div class="shell">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
      <header class="top">
        <span class="brand">Gatehouse</span>
        <nav aria-label="Console">
          <ul>
            {LINKS.filter((l) => !l.admin || can.seeSettings(session.role)).map((l) => (
              <li key={l.page}>
                <a href={`#/${l.page}`} aria-current={l.page === page ? 'page' : undefined}>{l.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span class="principal" title={session.principal.id}>{session.principal.name}</span>
          <span class={`role role-${session.role}`}>{session.role}</span>
          <button type="button" class="link" onClick={props.onSignOut}>Sign out</button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>{props.children}</main>
    </div>
  );
}
