/**
 * EnvironmentFile= reading, right before exec (systemd reads them at that moment too, so edits
 * apply on the next start). Parsing is @mptcp/unit's parseEnvironmentFile(), one parser for the
 * whole project.
 */
import { type EnvironmentFileRef, parseEnvironmentFile } from '@mptcp/unit';
import { ActivationError, errnoNumberOf, errnoOf, messageOf } from './errors.js';
import { readRegularFile } from './read-regular.js';

/**
 * Reads the files in order (later wins); a missing `-` file is skipped, any other error throws.
 * Only regular files (or symlinks to them) up to 64 MiB are read, opened non-blocking: a FIFO or
 * /dev/zero fails this start with the file named instead of stalling the daemon.
 */
export function readEnvironmentFiles(refs: readonly EnvironmentFileRef[], unitName: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const ref of refs) {
    let text: string;
    try {
      text = readRegularFile(ref.path).toString('utf8');
    } catch (err) {
      if (ref.optional && errnoOf(err) === 'ENOENT') continue;
      throw new ActivationError(
        'ENVIRONMENT_FILE',
        `Failed to load environment files: ${messageOf(err).startsWith(ref.path) ? messageOf(err) : `${ref.path}: ${messageOf(err)}`}`,
        { unit: unitName, errno: errnoNumberOf(err), cause: err },
      );
    }
    out.push(...parseEnvironmentFile(text).env);
  }
  return out;
}
