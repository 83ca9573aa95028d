import { useState } from 'preact/hooks';
import { del, seg } from '../api.js';
import { TableWrap } from '../components/table-wrap.js';
import { Notice } from '../components/notice.js';
import { relative, when } from '../format.js';
import { can } from '../session.js';
import type { Key, Policy, Role } from '../types.js';
import { PolicyForm } from './policy-form.js';

/** The policies below the keys: listed for everyone, created, changed and deleted by admins. */
export function PoliciesSection(props: { policies: Policy[]; keys: Key[]; role: Role; onChange: () => void }) {
  const [editing, setEditing] = useState<Policy | 'new' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const manage = can.managePolicies(props.role);
  const live = props.policies.filter((p) => p.deletedAt === null);
  const users = (id: string) => props.keys.filter((k) => k.policyId === id && k.status !== 'revoked').length;
  const remove = async (p: Policy) => {
    setError(null);
    try {
      await del<Policy>(`/admin/v1/policies/${seg(p.id)}`);
      props.onChange();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <section aria-labelledby="policies-title">
      <div class="page-head">
        <h2 id="policies-title">Policies</h2>
        {manage && !editing && <button type="button" onClick={() => setEditing('new')}>Create policy</button>}
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      {editing && (
        <PolicyForm policy={editing === 'new' ? null : editing} onSaved={() => { setEditing(null); props.onChange(); }} onCancel={() => setEditing(null)} />
      )}
      {live.length === 0 ? <p class="empty">No policies.</p> : (
        <TableWrap label="Policies">
          <table>
            <thead>
              <tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Models</th><th scope="col">Limits</th><th scope="col">Keys using it</th><th scope="col">Changed</th>{manage && <th scope="col"><span class="sr-only">Actions</span></th>}</tr>
            </thead>
            <tbody>
              {live.map((p) => (
                <tr key={p.id}>
                  <th scope="row">{p.name}</th>
                  <td>{p.scopes.join(', ')}</td>
                  <td>{p.models ? p.models.join(', ') : 'every model'}</td>
                  <td>{(['rpm', 'tpm', 'tpd', 'concurrency'] as const).filter((l) => p.limits[l] !== null).map((l) => `${l} ${p.limits[l]}`).join(', ') || 'none'}</td>
                  <td>{users(p.id)}</td>
                  <td title={when(p.updatedAt)}>{relative(p.updatedAt)}</td>
                  {manage && (
                    <td class="row-actions">
                      <button type="button" class="small secondary" aria-label={`Edit policy ${p.name}`} onClick={() => setEditing(p)}>Edit</button>
                      <button type="button" class="small danger" aria-label={`Delete policy ${p.name}`} onClick={() => remove(p)}>Delete</button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  );
}
