import type { ComponentChildren } from 'preact';

/** A table that may scroll sideways: a labelled region that takes keyboard focus, so it can be scrolled without a mouse. */
export function TableWrap(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabIndex={0}>
      {props.children}
    </div>
  );
}
