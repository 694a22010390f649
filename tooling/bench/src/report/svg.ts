/**
 * Hand-written SVG charts: grouped bars and line series. No dependencies; the output is plain,
 * deterministic text that diffs well in git.
 */
import { fmtNumber } from '../lib/format.js';

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];
const W = 720;
const H = 400;
const M = { top: 48, right: 24, bottom: 64, left: 72 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Axis tick label: no trailing zeros, k/M for large values. */
function tick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(4)}M`;
  if (a >= 1e4) return `${+(v / 1e3).toPrecision(4)}k`;
  return `${+v.toPrecision(4)}`;
}

function n(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/** "Nice" tick values covering [0, max] (or [min, max]). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.floor(min / step) * step; t <= max + step * 1e-9; t += step)
    ticks.push(+(Math.round(t / step) * step).toPrecision(12));
  if (ticks[ticks.length - 1]! < max) ticks.push(+(ticks[ticks.length - 1]! + step).toPrecision(12));
  return ticks;
}

function frame(title: string, body: string[], legend: string[]): string {
  // legend entries laid out by label length (about 7 px per character at 12 px)
  let x = M.left;
  const items = legend.map((name, i) => {
    const item =
      `<g transform="translate(${x},${H - 18})"><rect width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>` +
      `<text x="16" y="10">${esc(name)}</text></g>`;
    x += 40 + name.length * 7;
    return item;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...body,
    ...items,
    '</svg>',
    '',
  ].join('\n');
}

function yAxis(ticks: number[], y: (v: number) => number, label: string): string[] {
  const out: string[] = [];
  for (const t of ticks) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${n(y(t))}" y2="${n(y(t))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${n(y(t) + 4)}" text-anchor="end">${esc(tick(t))}</text>`);
  }
  out.push(
    `<text transform="translate(16,${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(label)}</text>`,
  );
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`);
  return out;
}

export interface BarGroup {
  label: string;
  /** One bar per series, in legend order. */
  values: number[];
}

export interface BarChart {
  title: string;
  yLabel: string;
  series: string[];
  groups: BarGroup[];
  /** Optional horizontal reference line (e.g. a goal). */
  reference?: { value: number; label: string };
}

export function barChart(c: BarChart): string {
  const all = c.groups.flatMap((g) => g.values).concat(c.reference ? [c.reference.value] : []);
  const ticks = niceTicks(0, Math.max(...all, 0) * 1.05);
  const top = ticks[ticks.length - 1]!;
  const plotH = H - M.top - M.bottom;
  const y = (v: number): number => H - M.bottom - (v / top) * plotH;
  const body = yAxis(ticks, y, c.yLabel);
  const gw = (W - M.left - M.right) / Math.max(1, c.groups.length);
  const bw = (gw * 0.7) / Math.max(1, c.series.length);
  c.groups.forEach((g, gi) => {
    const x0 = M.left + gi * gw + gw * 0.15;
    g.values.forEach((v, si) => {
      const x = x0 + si * bw;
      body.push(
        `<rect x="${n(x)}" y="${n(y(v))}" width="${n(bw - 2)}" height="${n(H - M.bottom - y(v))}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${g.label} ${c.series[si] ?? ''}: ${fmtNumber(v)}`)}</title></rect>`,
      );
      body.push(
        `<text x="${n(x + (bw - 2) / 2)}" y="${n(y(v) - 4)}" text-anchor="middle" font-size="10">${esc(fmtNumber(v))}</text>`,
      );
    });
    body.push(
      `<text x="${n(M.left + gi * gw + gw / 2)}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(g.label)}</text>`,
    );
  });
  if (c.reference) {
    const ry = y(c.reference.value);
    body.push(
      `<line x1="${M.left}" x2="${W - M.right}" y1="${n(ry)}" y2="${n(ry)}" stroke="#d62728" stroke-dasharray="6 4"/>`,
    );
    body.push(
      `<text x="${W - M.right - 4}" y="${n(ry - 4)}" text-anchor="end" fill="#d62728">${esc(c.reference.label)}</text>`,
    );
  }
  return frame(c.title, body, c.series);
}

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** Logarithmic x axis (base 10), for scaling sweeps such as 1…1000 units. */
  logX?: boolean;
  /** Shaded x ranges with a label, e.g. "path 1 down". */
  bands?: Array<{ from: number; to: number; label: string }>;
  /** Draw a marker on every point (sweeps); time series stay plain lines. */
  markers?: boolean;
}

export function lineChart(c: LineChart): string {
  const pts = c.series.flatMap((s) => s.points);
  if (pts.length === 0)
    return frame(c.title, [`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text>`], []);
  const tx = (v: number): number => (c.logX ? Math.log10(Math.max(v, 1e-9)) : v);
  const xs = pts.map((p) => tx(p[0]));
  let xmin = Math.min(...xs);
  let xmax = Math.max(...xs);
  if (xmax === xmin) xmax = xmin + 1;
  if (!c.logX) xmin = Math.min(0, xmin);
  const yt = niceTicks(0, Math.max(...pts.map((p) => p[1]), 0) * 1.05);
  const top = yt[yt.length - 1]!;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const x = (v: number): number => M.left + ((tx(v) - xmin) / (xmax - xmin)) * plotW;
  const y = (v: number): number => H - M.bottom - (v / top) * plotH;
  const body: string[] = [];
  for (const b of c.bands ?? []) {
    body.push(
      `<rect x="${n(x(b.from))}" y="${M.top}" width="${n(Math.max(1, x(b.to) - x(b.from)))}" height="${plotH}" fill="#fbe3e3"/>`,
    );
    body.push(`<text x="${n(x(b.from) + 4)}" y="${M.top + 14}" fill="#a33">${esc(b.label)}</text>`);
  }
  body.push(...yAxis(yt, y, c.yLabel));
  // a log axis is labelled at the measured points (1, 2, 4 … 256), which are what a sweep is about
  const xticks = c.logX ? [...new Set(pts.map((p) => p[0]))] : niceTicks(xmin, xmax, 8).filter((t) => t <= xmax + 1e-9);
  for (const t of xticks) {
    body.push(`<text x="${n(x(t))}" y="${H - M.bottom + 16}" text-anchor="middle">${esc(tick(t))}</text>`);
  }
  body.push(
    `<text x="${(M.left + W - M.right) / 2}" y="${H - M.bottom + 34}" text-anchor="middle">${esc(c.xLabel)}</text>`,
  );
  c.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${n(x(p[0]))},${n(y(p[1]))}`).join(' ');
    body.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
    if (c.markers)
      for (const p of s.points) body.push(`<circle cx="${n(x(p[0]))}" cy="${n(y(p[1]))}" r="3" fill="${color}"/>`);
  });
  return frame(
    c.title,
    body,
    c.series.map((s) => s.name),
  );
}
