import { useState } from 'preact/hooks';

/** A key's secret, shown once: copy it now, it is never shown again. */
export function SecretOnce(props: { name: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <section class="secret" aria-labelledby="secret-title">
      <h3 id="secret-title">Secret for {props.name}</h3>
      <p>Copy it now: it is shown this once and never again.</p>
      <label for="secret-value">Secret</label>
      <input id="secret-value" class="mono" readOnly value={props.secret} onFocus={(e) => e.currentTarget.select()} />
      <div class="actions">
        <button type="button" onClick={copy}>{copied ? 'Copied' : 'Copy'}</button>
        <button type="button" class="secondary" onClick={props.onDone}>I have stored it</button>
      </div>
    </section>
  );
}
