import { useState } from 'preact/hooks';
import { patch, post, seg } from '../api.js';
import { GrantFields, grantsBody, grantsOf, type Grants } from '../components/grants.js';
import { Notice } from '../components/notice.js';
import { fromLocalInput, toLocalInput } from '../format.js';
import type { Key, Policy } from '../types.js';

/** Create a key (its secret comes back once) or change one: name, policy or grants, expiry. */
export function KeyForm(props: { keyToEdit: Key | null; policies: Policy[]; onCreated: (name: string, secret: string) => void; onSaved: () => void; onCancel: () => void }) {
  const k = props.keyToEdit;
  const [name, setName] = useState(k?.name ?? '');
  const [policy, setPolicy] = useState(k?.policyId ?? '');
  const [grants, setGrants] = useState<Grants>(() => grantsOf(k));
  const [expires, setExpires] = useState(k?.expiresAt ? toLocalInput(k.expiresAt) : '');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const body: Record<string, unknown> = { name: name.trim(), expiresAt: fromLocalInput(expires) };
    if (policy) body.policy = policy;
    else {
      const g = grantsBody(grants);
      if (typeof g === 'string') return setError(g);
      Object.assign(body, g);
      if (k) body.policy = null;
    }
    setBusy(true);
    try {
      if (k) {
        await patch<Key>(`/admin/v1/keys/${seg(k.id)}`, body);
        props.onSaved();
      } else {
        const r = await post<{ key: Key; secret: string }>('/admin/v1/keys', body);
        props.onCreated(r.key.name, r.secret);
      }
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const live = props.policies.filter((p) => p.deletedAt === null);
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="key-form-title">
      <h3 id="key-form-title">{k ? `Edit key ${k.name}` : 'New key'}</h3>
      {error && <Notice kind="error">{error}</Notice>}
      <div class="field">
        <label for="key-name">Name</label>
        <input id="key-name" required maxLength={200} value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="key-policy">Policy</label>
        <select id="key-policy" value={policy} onChange={(e) => setPolicy(e.currentTarget.value)}>
          <option value="">None: this key's own grants</option>
          {live.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
      </div>
      {!policy && <GrantFields id="key" value={grants} onChange={setGrants} />}
      <div class="field">
        <label for="key-expires">Expires</label>
        <input id="key-expires" type="datetime-local" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} aria-describedby="key-expires-hint" />
        <p class="hint" id="key-expires-hint">Empty: never.</p>
      </div>
      <div class="actions">
        <button type="submit" disabled={busy}>{k ? 'Save' : 'Create key'}</button>
        <button type="button" class="secondary" onClick={props.onCancel}>Cancel</button>
      </div>
    </form>
  );
}
