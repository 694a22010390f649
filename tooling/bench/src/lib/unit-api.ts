/**
 * The parts of @mptcp/unit the benchmark and the fuzz suite use: parse one unit text, and the
 * package's own corpus generator when it exports one.
 */
import { generateCorpus, type GeneratedUnit } from './unit-corpus.js';

export interface ParsedDiagnostic {
  line?: number;
  message: string;
  file?: string;
}

export type ParseText = (name: string, text: string) => { diagnostics: ParsedDiagnostic[] };

type Mod = Record<string, unknown>;

async function loadUnit(): Promise<Mod> {
  return (await import('@mptcp/unit')) as unknown as Mod;
}

/** The text parser of @mptcp/unit, normalised to (name, text) → diagnostics. */
export async function resolveParser(): Promise<ParseText> {
  const mod = await loadUnit();
  const f = mod.parseUnitText;
  if (typeof f !== 'function') throw new Error('@mptcp/unit does not export parseUnitText() yet');
  const parse = f as (text: string, o: { name: string; file: string }) => { diagnostics?: ParsedDiagnostic[] };
  return (name, text) => {
    const r = parse(text, { name, file: `/fuzz/${name}` });
    return { diagnostics: r.diagnostics ?? [] };
  };
}

/** `count` units from @mptcp/unit's generateUnitCorpus when exported, else our generator. */
export async function corpus(count: number, seed = 1): Promise<{ units: GeneratedUnit[]; source: string }> {
  for (const spec of ['@mptcp/unit/testing', '@mptcp/unit']) {
    try {
      const mod = (await import(spec)) as Mod;
      const g = mod.generateUnitCorpus;
      if (typeof g === 'function') {
        const units = (g as (o: { count: number; seed: number }) => GeneratedUnit[])({ count, seed });
        if (Array.isArray(units) && units.length >= count) return { units, source: `${spec} generateUnitCorpus` };
      }
    } catch {
      /* not exported (yet) */
    }
  }
  return { units: generateCorpus(count, seed), source: 'tooling/bench unit-corpus.ts' };
}
