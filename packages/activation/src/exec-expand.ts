/**
 * `$VAR` expansion of ExecStart= & co. at exec time with the service's final environment
 * (systemd's replace_env_argv(), implemented by @mptcp/unit's expandExecCommand()):
 * a word that is exactly `$NAME` becomes the value split into words (zero or more arguments);
 * `${NAME}` anywhere in a word is replaced, the word stays one argument; `$$` is a literal `$`;
 * unknown variables expand to nothing. The `:` prefix (`noEnvExpand`) turns all of this off.
 */
import { expandExecCommand } from '@mptcp/unit';

export function expandArgv(
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  noEnvExpand = false,
): string[] {
  // Without a `$` nothing expands (each word is itself): no pass over the environment at start.
  if (noEnvExpand || !argv.some((w) => w.includes('$'))) return [...argv];
  return expandExecCommand({ argv: [...argv], noEnvExpand }, env);
}
