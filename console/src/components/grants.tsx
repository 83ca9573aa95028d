import type { Limits } from '../types.js';

/** Scopes, models and limits: the grants a key or a policy carries, as form fields. */

export const SCOPES = ['inference', 'models:read', 'models:manage', 'cloud', 'metrics', 'admin:read', 'admin:keys', 'admin', 'keys:self'] as const;
const LIMITS: { key: keyof Limits; label: string }[] = [
  { key: 'rpm', label: 'Requests a minute' },
  { key: 'tpm', label: 'Tokens a minute' },
  { key: 'tpd', label: 'Tokens a day' },
  { key: 'concurrency', label: 'At once' },
];

export interface Grants {
  scopes: string[];
  /** Text as typed: names or patterns separated by commas or spaces; empty = every model. */
  models: string;
  /** Text as typed; empty = no limit. */
  limits: Record<keyof Limits, string>;
}

export const grantsOf = (g: { scopes: string[]; models: string[] | null; limits: Limits } | null): Grants => ({
  scopes: g ? [...g.scopes] : ['inference', 'models:read'],
  models: g?.models?.join(', ') ?? '',
  limits: {
    rpm: g?.limits.rpm?.toString() ?? '',
    tpm: g?.limits.tpm?.toString() ?? '',
    tpd: g?.limits.tpd?.toString() ?? '',
    concurrency: g?.limits.concurrency?.toString() ?? '',
  },
});

/** The API's body fields, or a message saying what is wrong. */
export function grantsBody(g: Grants): { scopes: string[]; models: string[] | null; limits: Limits } | string {
  const limits = {} as Limits;
  for (const { key, label } of LIMITS) {
    const v = g.limits[key].trim();
    if (v === '') limits[key] = null;
    else if (/^\d{1,12}$/.test(v)) limits[key] = Number(v);
    else return `${label}: a whole number, or empty for no limit`;
  }
  const models = g.models.split(/[\s,]+/).filter(Boolean);
  return { scopes: g.scopes, models: models.length ? models : null, limits };
}

export function GrantFields(props: { id: string; value: Grants; onChange: (g: Grants) => void }) {
  const { id, value: g } = props;
  const toggle = (s: string, on: boolean) => props.onChange({ ...g, scopes: on ? [...g.scopes, s] : g.scopes.filter((x) => x !== s) });
  return (
    <>
      <fieldset class="scopes">
        <legend>Scopes</legend>
        {SCOPES.map((s) => (
          <label key={s} class="check">
            <input type="checkbox" checked={g.scopes.includes(s)} onChange={(e) => toggle(s, e.currentTarget.checked)} /> {s}
          </label>
        ))}
      </fieldset>
      <div class="field">
        <label for={`${id}-models`}>Models</label>
        <input id={`${id}-models`} value={g.models} placeholder="every model" aria-describedby={`${id}-models-hint`}
          onInput={(e) => props.onChange({ ...g, models: e.currentTarget.value })} />
        <p class="hint" id={`${id}-models-hint`}>Names or patterns (llama3*), separated by commas; empty for every model.</p>
      </div>
      <fieldset class="limits">
        <legend>Limits (empty: none)</legend>
        {LIMITS.map(({ key, label }) => (
          <div class="field" key={key}>
            <label for={`${id}-${key}`}>{label}</label>
            <input id={`${id}-${key}`} inputMode="numeric" value={g.limits[key]}
              onInput={(e) => props.onChange({ ...g, limits: { ...g.limits, [key]: e.currentTarget.value } })} />
          </div>
        ))}
      </fieldset>
    </>
  );
}
