/**
 * The parts of @mptcp/unit the benchmark and the fuzz suite use: parse one unit text (normalised
 * to name + text → diagnostics), and the package's own corpus generator.
 */
import { parseUnitText } from '@mptcp/unit';
import { generateUnitCorpus } from '@mptcp/unit/testing';

export interface ParsedDiagnostic {
  line?: number;
  message: string;
  file?: string;
}

export type ParseText = (name: string, text: string) => { diagnostics: ParsedDiagnostic[] };

/** parseUnitText with the file at /fuzz/NAME, so every diagnostic names a file we can check. */
export function resolveParser(): ParseText {
  return (name, text) => parseUnitText(text, { name, file: `/fuzz/${name}` });
}

/** `count` units from @mptcp/unit's generateUnitCorpus. */
export function corpus(count: number, seed = 1): { units: Array<{ name: string; text: string }>; source: string } {
  return { units: generateUnitCorpus(count, seed), source: '@mptcp/unit/testing generateUnitCorpus' };
}
