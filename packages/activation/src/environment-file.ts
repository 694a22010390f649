/**
 * EnvironmentFile= reading, right before exec (systemd reads them at that moment too, so edits
 * apply on the next start). Parsing is @mptcp/unit's parseEnvironmentFile(), one parser for the
 * whole project.
 */
import { readFileSync } from 'node:fs';
import { type EnvironmentFileRef, parseEnvironmentFile } from '@mptcp/unit';
import { ActivationError, errnoOf, messageOf } from './errors.js';

/** Reads the files in order (later wins); a missing `-` file is skipped, any other error throws. */
export function readEnvironmentFiles(refs: readonly EnvironmentFileRef[], unitName: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const ref of refs) {
    let text: string;
    try {
      text = readFileSync(ref.path, 'utf8');
    } catch (err) {
      if (ref.optional && errnoOf(err) === 'ENOENT') continue;
      throw new ActivationError('ENVIRONMENT_FILE', `Failed to load environment files: ${ref.path}: ${messageOf(err)}`, { unit: unitName, errno: errnoOf(err), cause: err });
    }
    out.push(...parseEnvironmentFile(text).env);
  }
  return out;
}
