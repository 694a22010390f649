/**
 * results/latest.json and results/latest.md. Scenario records are the source of truth; the top-level
 * named figures and the metric table are derived from them, so a subset run (`--only failover`)
 * replaces its own scenarios and keeps the others from the previous run.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmtNumber } from '../lib/format.js';
import { met, type JsonObject, type JsonValue, type ScenarioRecord } from '../lib/result.js';

export interface Report {
  generatedAt: string;
  host: JsonObject;
  scenarios: Record<string, ScenarioRecord>;
}

export function loadPrevious(dir: string): Record<string, ScenarioRecord> {
  const file = join(dir, 'latest.json');
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { scenarios?: Record<string, ScenarioRecord> };
    return parsed.scenarios ?? {};
  } catch {
    return {};
  }
}

/** The JSON document: named figures first (merged from every scenario's summary), then all metrics, then raw data. */
export function toJson(r: Report, order: readonly string[]): JsonObject {
  const doc: JsonObject = { generatedAt: r.generatedAt, host: r.host };
  const metrics: JsonValue[] = [];
  for (const name of order) {
    const s = r.scenarios[name];
    if (!s) continue;
    for (const [k, v] of Object.entries(s.summary)) doc[k] = v;
    for (const m of s.metrics) {
      const entry: JsonObject = { key: m.key, label: m.label, value: m.value, unit: m.unit, scenario: name };
      if (m.goal) {
        entry.goal = { op: m.goal.op, value: m.goal.value };
        entry.met = met(m);
      }
      metrics.push(entry);
    }
  }
  doc.metrics = metrics;
  const scenarios: JsonObject = {};
  for (const name of order) {
    const s = r.scenarios[name];
    if (s) scenarios[name] = s as unknown as JsonObject;
  }
  doc.scenarios = scenarios;
  return doc;
}

export function toMarkdown(r: Report, order: readonly string[], titles: Record<string, string>): string {
  const lines: string[] = [];
  lines.push('# Benchmark results', '');
  lines.push(
    `Generated ${r.generatedAt} on ${String(r.host.kernel)} / Node ${String(r.host.node)} / ${String(r.host.cpus)} CPUs. ` +
      'Every figure is a median of repeated runs measured side by side in one run; ratios compare our code with its baseline.',
    '',
  );
  lines.push('| metric | value | goal | met? |', '|---|---|---|---|');
  for (const name of order) {
    const s = r.scenarios[name];
    if (!s) continue;
    if (s.skipped || s.failed) {
      lines.push(`| ${titles[name] ?? name} | ${s.skipped ? `skipped: ${s.skipped}` : `failed: ${s.failed}`} | | |`);
      continue;
    }
    for (const m of s.metrics) {
      const ok = met(m);
      const goal = m.goal ? `${m.goal.op} ${m.goal.value}${m.unit ? ` ${m.unit}` : ''}` : '';
      lines.push(
        `| ${m.label} | ${fmtNumber(m.value)}${m.unit ? ` ${m.unit}` : ''} | ${goal} | ${ok === null ? '' : ok ? 'yes' : '**no**'} |`,
      );
    }
  }
  lines.push('');
  for (const name of order) {
    const s = r.scenarios[name];
    if (!s) continue;
    lines.push(`## ${titles[name] ?? name}`, '');
    lines.push(`Ran ${s.ranAt}${s.quick ? ' (quick mode)' : ''} in ${s.seconds.toFixed(1)} s.`, '');
    if (s.skipped) lines.push(`Skipped: ${s.skipped}`, '');
    if (s.failed) lines.push(`Failed: ${s.failed}`, '');
    for (const m of s.metrics) if (m.how) lines.push(`- **${m.label}**: ${m.how}`);
    if (s.metrics.some((m) => m.how)) lines.push('');
    for (const note of s.notes) lines.push(`- ${note}`);
    if (s.notes.length) lines.push('');
    for (const c of s.charts) lines.push(`![${c.title}](${c.file})`, '');
  }
  return lines.join('\n');
}

export function writeReport(dir: string, r: Report, order: readonly string[], titles: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), `${JSON.stringify(toJson(r, order), null, 2)}\n`);
  writeFileSync(join(dir, 'latest.md'), toMarkdown(r, order, titles));
}
