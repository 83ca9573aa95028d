import type { ComponentChildren } from 'preact';

/** A message box: errors are announced to screen readers (role=alert), the rest politely. */
export function Notice(props: { kind: 'error' | 'info' | 'ok' | 'warn'; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${props.kind}`} role={props.kind === 'error' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}

/** What a page shows while it loads, when loading failed, or when there is nothing to show. */
export function LoadState(props: { loading: boolean; error: Error | null; empty?: boolean; emptyText?: string }) {
  if (props.error) return <Notice kind="error">{props.error.message}</Notice>;
  if (props.loading && props.empty !== false) return <p class="muted" aria-live="polite">Loading…</p>;
  if (props.empty) return <p class="empty">{props.emptyText ?? 'Nothing to show.'}</p>;
  return null;
}
