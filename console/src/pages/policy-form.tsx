import { useState } from 'preact/hooks';
import { patch, post, seg } from '../api.js';
import { GrantFields, grantsBody, grantsOf, type Grants } from '../components/grants.js';
import { Notice } from '../components/notice.js';
import type { Policy } from '../types.js';

/** Create or change a policy: its name and grants (every key using it follows within a second). */
export function PolicyForm(props: { policy: Policy | null; onSaved: () => void; onCancel: () => void }) {
  const p = props.policy;
  const [name, setName] = useState(p?.name ?? '');
  const [grants, setGrants] = useState<Grants>(() => grantsOf(p));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const g = grantsBody(grants);
    if (typeof g === 'string') return setError(g);
    setBusy(true);
    setError(null);
    try {
      if (p) await patch<Policy>(`/admin/v1/policies/${seg(p.id)}`, { name: name.trim(), ...g });
      else await post<Policy>('/admin/v1/policies', { name: name.trim(), ...g });
      props.onSaved();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="policy-form-title">
      <h3 id="policy-form-title">{p ? `Edit policy ${p.name}` : 'New policy'}</h3>
      {error && <Notice kind="error">{error}</Notice>}
      <div class="field">
        <label for="policy-name">Name</label>
        <input id="policy-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <GrantFields id="policy" value={grants} onChange={setGrants} />
      <div class="actions">
        <button type="submit" disabled={busy}>{p ? 'Save' : 'Create policy'}</button>
        <button type="button" class="secondary" onClick={props.onCancel}>Cancel</button>
      </div>
    </form>
  );
}
