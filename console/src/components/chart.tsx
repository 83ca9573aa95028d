import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/**
 * A time-series chart (uPlot, drawn on a canvas): one line per series. `xs` in ms since the epoch;
 * each series' values aligned with xs (null: no value). The figure carries a text summary for
 * screen readers, since a canvas says nothing.
 */

export interface ChartSeries { label: string; values: (number | null)[] }

const COLOURS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bc4c00', '#0a7ea4', '#6e7781'];

export function Chart(props: { title: string; xs: number[]; series: ChartSeries[]; unit?: string; summary: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const width = Math.max(280, el.clientWidth || 560);
    const opts: uPlot.Options = {
      width,
      height: 220,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [{ stroke: '#444' }, { stroke: '#444', size: 60, values: (_u, ticks) => ticks.map((v) => (props.unit ? `${v} ${props.unit}` : String(v))) }],
      series: [{}, ...props.series.map((s, i) => ({ label: s.label, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: false, points: { show: props.xs.length < 3 } }))],
    };
    const data = [props.xs.map((t) => t / 1000), ...props.series.map((s) => s.values)] as uPlot.AlignedData;
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 220 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props.xs, props.series, props.unit]);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} class="chart-canvas" role="img" aria-label={`${props.title}: ${props.summary}`} />
    </figure>
  );
}
