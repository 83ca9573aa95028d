import { ApiError, get } from '../api.js';
import { LoadState, Notice } from '../components/notice.js';
import { bytes, num, relative, when } from '../format.js';
import type { Nodes } from '../types.js';
import { useLoad } from '../use-load.js';

/** Fleet: each node's health, in-flight requests and queue, resident models with expiry and VRAM. Refreshed every 2 s. */
export function FleetPage() {
  const fleet = useLoad(async () => {
    try {
      return await get<Nodes>('/admin/v1/nodes');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }, [], 2000);
  const f = fleet.data;
  return (
    <section aria-labelledby="fleet-title">
      <div class="page-head"><h1 id="fleet-title">Fleet</h1></div>
      <LoadState loading={fleet.loading && f === null && !fleet.error} error={fleet.error} />
      {!fleet.loading && f === null && !fleet.error && (
        <Notice kind="info">This gateway has a single upstream (no <code>upstreams</code> in its configuration): there is no fleet to show.</Notice>
      )}
      {f && (
        <>
          <dl class="totals">
            <div><dt>Nodes up</dt><dd>{f.nodes.filter((n) => n.health === 'up').length} of {f.nodes.length}</dd></div>
            <div><dt>In flight</dt><dd>{num(f.nodes.reduce((s, n) => s + n.inFlight, 0))}</dd></div>
            <div><dt>Queued</dt><dd>{num(f.queued)}</dd></div>
          </dl>
          <ul class="nodes">
            {f.nodes.map((n) => (
              <li key={n.name} class={`node node-${n.health}`} data-node={n.name}>
                <h2>{n.name} <span class={`health health-${n.health}`}>{n.health}</span></h2>
                <p class="mono muted">{n.url}</p>
                <dl class="facts">
                  <div><dt>In flight</dt><dd>{n.inFlight} / {n.parallel}</dd></div>
                  <div><dt>Breaker</dt><dd>{n.breaker}</dd></div>
                  <div><dt>Models installed</dt><dd>{n.installed}</dd></div>
                  <div><dt>Requests</dt><dd>{num(n.requests)}</dd></div>
                  <div><dt>Cold loads</dt><dd>{num(n.coldLoads)}</dd></div>
                </dl>
                {n.lastError && <Notice kind="warn">Last error {relative(n.lastError.at)}: {n.lastError.message}</Notice>}
                <h3>Resident models ({n.resident.length} of at most {n.maxLoaded})</h3>
                {n.resident.length === 0 ? <p class="empty">None loaded.</p> : (
                  <table class="resident">
                    <thead><tr><th scope="col">Model</th><th scope="col">Expires</th><th scope="col">VRAM</th></tr></thead>
                    <tbody>
                      {n.resident.map((m) => (
                        <tr key={m.model}>
                          <th scope="row">{m.model}{m.loading && <span class="tag">loading</span>}</th>
                          <td title={when(m.expiresAt)}>{m.expiresAt ? relative(m.expiresAt) : '—'}</td>
                          <td>{bytes(m.sizeVram)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
