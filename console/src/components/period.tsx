import { fromLocalInput, toLocalInput } from '../format.js';

/** A time period: one of the presets, or any since/until. */

export interface Period { since: number; until: number }
export type Preset = '1h' | '24h' | '7d' | '30d' | 'custom';

const SPAN: Record<Exclude<Preset, 'custom'>, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };

export function periodOf(preset: Preset, custom: Period, now = Date.now()): Period {
  return preset === 'custom' ? custom : { since: now - SPAN[preset], until: now };
}

export function PeriodPicker(props: { id: string; preset: Preset; custom: Period; onChange: (preset: Preset, custom: Period) => void }) {
  const { id, preset, custom } = props;
  return (
    <fieldset class="period">
      <legend>Period</legend>
      <label for={`${id}-preset`}>Show</label>
      <select id={`${id}-preset`} value={preset} onChange={(e) => props.onChange(e.currentTarget.value as Preset, custom)}>
        <option value="1h">Last hour</option>
        <option value="24h">Last 24 hours</option>
        <option value="7d">Last 7 days</option>
        <option value="30d">Last 30 days</option>
        <option value="custom">From … to …</option>
      </select>
      {preset === 'custom' && (
        <>
          <label for={`${id}-since`}>From</label>
          <input id={`${id}-since`} type="datetime-local" value={toLocalInput(custom.since)}
            onChange={(e) => props.onChange('custom', { ...custom, since: fromLocalInput(e.currentTarget.value) ?? custom.since })} />
          <label for={`${id}-until`}>To</label>
          <input id={`${id}-until`} type="datetime-local" value={toLocalInput(custom.until)}
            onChange={(e) => props.onChange('custom', { ...custom, until: fromLocalInput(e.currentTarget.value) ?? custom.until })} />
        </>
      )}
    </fieldset>
  );
}
