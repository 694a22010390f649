/**
 * Metric families and their two text forms: OpenMetrics 1.0 (application/openmetrics-text, what
 * Prometheus asks for first) and the Prometheus text format 0.0.4 (text/plain, what `curl` and
 * `promtool check metrics` read). The difference that matters: an OpenMetrics counter family `x` has
 * samples `x_total` and the exposition ends with `# EOF`; the 0.0.4 family is named `x_total`.
 */

export type MetricType = 'counter' | 'gauge' | 'info';

export interface Sample {
  labels?: Record<string, string>;
  value: number | bigint;
}

export interface MetricFamily {
  /** Base name, without `_total`/`_info`. */
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function labelText(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
}

function valueText(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const suffix = (t: MetricType): string => (t === 'counter' ? '_total' : t === 'info' ? '_info' : '');

/** OpenMetrics 1.0 text, `# EOF` terminated. */
export function renderOpenMetrics(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# TYPE ${f.name} ${f.type}`, `# HELP ${f.name} ${escapeHelp(f.help)}`);
    for (const s of f.samples) out.push(`${f.name}${suffix(f.type)}${labelText(s.labels)} ${valueText(s.value)}`);
  }
  out.push('# EOF');
  return out.join('\n') + '\n';
}

/** Prometheus text format 0.0.4 (info families become gauges named `x_info`). */
export function renderPrometheusText(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    const name = f.name + suffix(f.type);
    out.push(`# HELP ${name} ${escapeHelp(f.help)}`, `# TYPE ${name} ${f.type === 'info' ? 'gauge' : f.type}`);
    for (const s of f.samples) out.push(`${name}${labelText(s.labels)} ${valueText(s.value)}`);
  }
  return out.join('\n') + '\n';
}

/** Picks the format from an Accept header, as Prometheus' scrape negotiation expects. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return /application\/openmetrics-text/i.test(accept ?? '');
}
