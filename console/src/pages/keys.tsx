import { useState } from 'preact/hooks';
import { get, post, seg } from '../api.js';
import { TableWrap } from '../components/table-wrap.js';
import { LoadState, Notice } from '../components/notice.js';
import { SecretOnce } from '../components/secret-once.js';
import { relative, when } from '../format.js';
import { can } from '../session.js';
import type { Key, Policy, Role } from '../types.js';
import { useLoad } from '../use-load.js';
import { KeyForm } from './key-form.js';
import { PoliciesSection } from './policies.js';

/** Keys & policies: list; create (secret shown once), edit, rotate, revoke for operators. */

type Editing = { mode: 'create' } | { mode: 'edit'; key: Key } | null;
type Confirm = { action: 'revoke' | 'rotate'; key: Key } | null;

const load = async () => {
  const [k, p] = await Promise.all([get<{ keys: Key[] }>('/admin/v1/keys'), get<{ policies: Policy[] }>('/admin/v1/policies', { deleted: 'true' })]);
  return { keys: k.keys, policies: p.policies };
};

export function KeysPage(props: { role: Role }) {
  const data = useLoad(load, []);
  const [editing, setEditing] = useState<Editing>(null);
  const [confirm, setConfirm] = useState<Confirm>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [overlap, setOverlap] = useState('24h');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);
  const manage = can.manageKeys(props.role);
  const policyName = (id: string | null) => (id === null ? null : data.data?.policies.find((p) => p.id === id)?.name ?? id);

  const act = async () => {
    if (!confirm) return;
    const { action, key } = confirm;
    try {
      if (action === 'revoke') {
        await post<Key>(`/admin/v1/keys/${seg(key.id)}/revoke`, {});
        setMessage({ kind: 'ok', text: `Key ${key.name} is revoked.` });
      } else {
        const r = await post<{ key: Key; secret: string }>(`/admin/v1/keys/${seg(key.id)}/rotate`, { overlap });
        setSecret({ name: r.key.name, secret: r.secret });
        setMessage(null);
      }
    } catch (err) {
      setMessage({ kind: 'error', text: err instanceof Error ? err.message : String(err) });
    }
    setConfirm(null);
    data.reload();
  };

  const keys = (data.data?.keys ?? []).filter((k) => showRevoked || k.status !== 'revoked');
  return (
    <section aria-labelledby="keys-title">
      <div class="page-head">
        <h1 id="keys-title">Keys &amp; policies</h1>
        {manage && !editing && <button type="button" onClick={() => { setEditing({ mode: 'create' }); setSecret(null); setMessage(null); }}>Create key</button>}
      </div>
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
      {secret && <SecretOnce name={secret.name} secret={secret.secret} onDone={() => setSecret(null)} />}
      {editing && data.data && (
        <KeyForm keyToEdit={editing.mode === 'edit' ? editing.key : null} policies={data.data.policies}
          onCreated={(name, s) => { setEditing(null); setSecret({ name, secret: s }); data.reload(); }}
          onSaved={() => { setEditing(null); setMessage({ kind: 'ok', text: 'Saved.' }); data.reload(); }}
          onCancel={() => setEditing(null)} />
      )}
      {confirm && (
        <div class="panel confirm" role="group" aria-labelledby="confirm-title">
          <h3 id="confirm-title">{confirm.action === 'revoke' ? `Revoke key ${confirm.key.name}?` : `Rotate key ${confirm.key.name}?`}</h3>
          {confirm.action === 'revoke'
            ? <p>Every gateway refuses it within a second. This cannot be undone.</p>
            : (
              <div class="field">
                <label for="rotate-overlap">The old secret keeps working for</label>
                <select id="rotate-overlap" value={overlap} onChange={(e) => setOverlap(e.currentTarget.value)}>
                  <option value="0">No time: it stops now</option>
                  <option value="1h">1 hour</option>
                  <option value="24h">24 hours</option>
                  <option value="168h">7 days</option>
                </select>
              </div>
            )}
          <div class="actions">
            <button type="button" class={confirm.action === 'revoke' ? 'danger' : ''} onClick={act}>{confirm.action === 'revoke' ? 'Yes, revoke' : 'Rotate'}</button>
            <button type="button" class="secondary" onClick={() => setConfirm(null)}>Cancel</button>
          </div>
        </div>
      )}
      <h2>Keys</h2>
      <label class="check">
        <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.currentTarget.checked)} /> Show revoked keys
      </label>
      <LoadState loading={data.loading && !data.data} error={data.error} empty={!!data.data && keys.length === 0} emptyText="No keys." />
      {keys.length > 0 && (
        <TableWrap label="Keys">
          <table class="keys">
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Grants</th><th scope="col">Models</th><th scope="col">Last used</th><th scope="col">Expires</th>{manage && <th scope="col"><span class="sr-only">Actions</span></th>}</tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id} data-key-id={k.id}>
                  <th scope="row" class="name">{k.name}{k.hint && <span class="muted mono"> …{k.hint}</span>}{k.owner && <span class="tag">personal</span>}</th>
                  <td><span class={`status status-${k.status}`}>{k.status}</span></td>
                  <td>{k.policyId ? <>policy <strong>{policyName(k.policyId)}</strong></> : k.scopes.join(', ')}</td>
                  <td>{k.models ? k.models.join(', ') : 'every model'}</td>
                  <td title={when(k.lastUsedAt)}>{k.lastUsedAt ? relative(k.lastUsedAt) : 'never'}</td>
                  <td title={when(k.expiresAt)}>{k.expiresAt ? relative(k.expiresAt) : 'never'}</td>
                  {manage && (
                    <td class="row-actions">
                      {k.status !== 'revoked' && (
                        <>
                          <button type="button" class="small secondary" aria-label={`Edit ${k.name}`} onClick={() => { setEditing({ mode: 'edit', key: k }); setSecret(null); }}>Edit</button>
                          {k.kind === 'api_key' && <button type="button" class="small secondary" aria-label={`Rotate ${k.name}`} onClick={() => setConfirm({ action: 'rotate', key: k })}>Rotate</button>}
                          <button type="button" class="small danger" aria-label={`Revoke ${k.name}`} onClick={() => setConfirm({ action: 'revoke', key: k })}>Revoke</button>
                        </>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {data.data && <PoliciesSection policies={data.data.policies} keys={data.data.keys} role={props.role} onChange={data.reload} />}
    </section>
  );
}
