import { get } from '../api.js';
import { LoadState } from '../components/notice.js';
import type { Finding } from '../types.js';
import { useLoad } from '../use-load.js';

/** Settings: the effective configuration (secrets redacted by the server) and the doctor's findings. */

const load = async () => {
  const [config, doctor] = await Promise.allSettled([get<{ config: unknown }>('/admin/v1/config'), get<{ findings: Finding[] }>('/admin/v1/doctor')]);
  return { config, doctor };
};

const reason = (r: PromiseRejectedResult): string => (r.reason instanceof Error ? r.reason.message : String(r.reason));

export function SettingsPage() {
  const data = useLoad(load, []);
  const d = data.data;
  return (
    <section aria-labelledby="settings-title">
      <div class="page-head"><h1 id="settings-title">Settings</h1></div>
      <LoadState loading={data.loading && !d} error={data.error} />
      {d && (
        <>
          <h2>Doctor</h2>
          {d.doctor.status === 'rejected' ? <p class="empty">The doctor's findings could not be read: {reason(d.doctor)}</p> : (
            d.doctor.value.findings.length === 0 ? <p class="empty">No findings.</p> : (
              <ul class="findings">
                {d.doctor.value.findings.map((f, i) => (
                  <li key={`${f.check}-${i}`} class={`finding finding-${f.status}`}>
                    <span class={`badge badge-${f.status}`}>{f.status}</span> <strong>{f.check}</strong>: {f.message}
                  </li>
                ))}
              </ul>
            )
          )}
          <h2>Effective configuration</h2>
          <p class="hint">Defaults filled in; secrets shown as [redacted]. Change it in the configuration file and restart.</p>
          {d.config.status === 'rejected' ? <p class="empty">The configuration could not be read: {reason(d.config)}</p> : (
            <pre class="config" tabIndex={0} aria-label="Effective configuration (JSON)">{JSON.stringify(d.config.value.config, null, 2)}</pre>
          )}
        </>
      )}
    </section>
  );
}
