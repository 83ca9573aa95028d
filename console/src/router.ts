import { useEffect, useState } from 'preact/hooks';

/**
 * Hash routing: `#/keys?x=1` → { page: 'keys', params }. The server serves only index.html and
 * its assets under /console/, so every page is a hash.
 */

export const PAGES = ['overview', 'keys', 'usage', 'audit', 'fleet', 'settings'] as const;
export type Page = (typeof PAGES)[number] | 'sign-in';

export interface Route {
  page: Page;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = raw.split('?', 2);
  const page = (PAGES as readonly string[]).includes(path) || path === 'sign-in' ? (path as Page) : 'overview';
  return { page, params: new URLSearchParams(query) };
}

export function navigate(page: Page, params?: Record<string, string>): void {
  const q = params ? new URLSearchParams(params).toString() : '';
  location.hash = `#/${page}${q ? `?${q}` : ''}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseHash(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
