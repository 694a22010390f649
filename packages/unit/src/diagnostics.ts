import type { Diagnostic } from './model.js';

/**
 * Formats a diagnostic as systemd prints it: `FILE:LINE: MESSAGE` for line-level messages,
 * `UNIT: MESSAGE` for load-time ones, the bare message otherwise.
 */
export function formatDiagnostic(d: Diagnostic): string {
  if (d.line !== undefined) return `${d.file}:${d.line}: ${d.message}`;
  if (d.unit !== undefined) return `${d.unit}: ${d.message}`;
  return d.message;
}
