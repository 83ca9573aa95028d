import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../api.js';
import { TableWrap } from '../components/table-wrap.js';
import { LoadState, Notice } from '../components/notice.js';
import { ms, when } from '../format.js';
import type { AuditPage as Page, AuditRecord } from '../types.js';

/**
 * Audit: the newest request records, filtered by key and refusals, searched in the page, and a
 * live tail (every 2 s, the records after the newest shown, oldest first).
 */

const LIMIT = 200;
const KEEP = 1000;

export function AuditPage() {
  const [key, setKey] = useState('');
  const [applied, setApplied] = useState('');
  const [denied, setDenied] = useState(false);
  const [search, setSearch] = useState('');
  const [live, setLive] = useState(false);
  const [records, setRecords] = useState<AuditRecord[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const newest = useRef(0);

  useEffect(() => {
    let stop = false;
    setLoading(true);
    get<Page>('/admin/v1/audit', { order: 'desc', limit: LIMIT, key: applied || undefined, denied: denied ? 'true' : undefined }).then(
      (p) => {
        if (stop) return;
        setRecords(p.records);
        newest.current = p.records[0]?.id ?? 0;
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (stop) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
    return () => { stop = true; };
  }, [applied, denied]);

  useEffect(() => {
    if (!live) return undefined;
    let stop = false;
    const tick = async () => {
      try {
        const p = await get<Page>('/admin/v1/audit', { order: 'asc', limit: LIMIT, afterId: newest.current, key: applied || undefined, denied: denied ? 'true' : undefined });
        if (stop || p.records.length === 0) return;
        newest.current = p.records[p.records.length - 1]!.id;
        setRecords((old) => [...[...p.records].reverse(), ...old].slice(0, KEEP));
      } catch (e) {
        if (!stop) setError(e instanceof Error ? e : new Error(String(e)));
      }
    };
    const t = setInterval(tick, 2000);
    return () => { stop = true; clearInterval(t); };
  }, [live, applied, denied]);

  const needle = search.trim().toLowerCase();
  const shown = needle
    ? records.filter((r) => [r.principalName, r.principalId, r.model, r.path, r.route, r.reason, r.requestId, r.clientIp, r.node, String(r.status)].some((v) => v?.toLowerCase().includes(needle)))
    : records;

  return (
    <section aria-labelledby="audit-title">
      <div class="page-head"><h1 id="audit-title">Audit</h1></div>
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setApplied(key.trim()); }}>
        <div class="field">
          <label for="audit-key">Key or identity (id or name)</label>
          <input id="audit-key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </div>
        <button type="submit" class="secondary">Filter</button>
        <label class="check"><input type="checkbox" checked={denied} onChange={(e) => setDenied(e.currentTarget.checked)} /> Refusals only</label>
        <div class="field">
          <label for="audit-search">Search these records</label>
          <input id="audit-search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </div>
        <label class="check"><input type="checkbox" checked={live} onChange={(e) => setLive(e.currentTarget.checked)} /> Live tail</label>
      </form>
      {live && <p class="muted" role="status">Following new records every 2 seconds.</p>}
      {error && <Notice kind="error">{error.message}</Notice>}
      <LoadState loading={loading} error={null} empty={!loading && shown.length === 0} emptyText="No records." />
      {shown.length > 0 && (
        <TableWrap label="Audit records">
          <table class="audit">
            <thead>
              <tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">Request</th><th scope="col">Model</th><th scope="col">Decision</th><th scope="col">Status</th><th scope="col">Tokens</th><th scope="col">First byte</th><th scope="col">Node</th></tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.id} class={r.decision === 'refused' ? 'refused' : undefined}>
                  <td>{when(r.at)}</td>
                  <td title={r.principalId ?? undefined}>{r.principalName ?? r.principalId ?? r.clientIp}</td>
                  <td class="mono">{r.method} {r.path ?? r.route}</td>
                  <td>{r.model ?? '—'}</td>
                  <td>{r.decision}{r.reason && <span class="muted"> ({r.reason})</span>}</td>
                  <td>{r.status}</td>
                  <td>{r.promptTokens === null && r.completionTokens === null ? '—' : `${r.promptTokens ?? 0} + ${r.completionTokens ?? 0}`}</td>
                  <td>{ms(r.ttfbMs)}</td>
                  <td>{r.node ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  );
}
