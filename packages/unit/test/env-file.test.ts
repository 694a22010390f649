/** parseEnvironmentFile() against systemd's src/test/test-env-file.c (load_env_file) cases. */
import { describe, expect, it } from 'vitest';
import { parseEnvironmentFile } from '../src/environment.js';

const assignments = (text: string) => parseEnvironmentFile(text).env.map(([k, v]) => `${k}=${v}`);

describe('load_env_file (upstream test-env-file.c)', () => {
  it('file 1: repeats, continuations, trailing blanks', () => {
    const f = 'a=a\na=b\na=b\na=a\nb=b\\\nc\nd= d\\\ne  \\\nf  \ng=g\\ \nh= ąęół\\ śćńźżμ \ni=i\\';
    expect(assignments(f)).toEqual(['a=a', 'b=bc', 'd=de  f', 'g=g ', 'h=ąęół śćńźżμ', 'i=i']);
  });
  it('file 2: escaped newline at EOF', () => {
    expect(assignments('a=a\\\n')).toEqual(['a=a']);
  });
  it('file 3: comment lines ending in a backslash', () => {
    const f =
      '#SPAMD_ARGS="-d --socketpath=/var/lib/bulwark/spamd \\\n#--nouser-config                                     \\\nnormal1=line\\\n111\n;normal=ignored                                      \\\nnormal2=line222\nnormal ignored                                       \\\n';
    expect(assignments(f)).toEqual(['normal1=line111', 'normal2=line222']);
  });
  it('file 4: quotes and blank lines', () => {
    const f =
      '# Generated\n\nHWMON_MODULES="coretemp f71882fg"\n\n# For compatibility reasons\n\nMODULE_0=coretemp\nMODULE_1=f71882fg';
    expect(assignments(f)).toEqual(['HWMON_MODULES=coretemp f71882fg', 'MODULE_0=coretemp', 'MODULE_1=f71882fg']);
  });
  it('file 5: empty values', () => {
    expect(assignments('a=\nb=')).toEqual(['a=', 'b=']);
  });
  it('file 6: escapes outside and inside quotes', () => {
    const f =
      "a=\\ \\n \\t \\x \\y \\' \nb= \\$'                  \nc= ' \\n\\t\\$\\`\\\\\n'   \nd= \" \\n\\t\\$\\`\\\\\n\"   \n";
    expect(assignments(f)).toEqual(["a= n t x y '", "b=$'", 'c= \\n\\t\\$\\`\\\\\n', 'd= \\n\\t$`\\\n']);
  });
  it.each(['fo\ufffeo=bar', 'foo=b\uffffar', 'baz=hello world\ufffe'])('refuses invalid UTF-8: %j', (f) => {
    const r = parseEnvironmentFile(f);
    expect(r.env).toEqual([]);
    expect(r.error?.code).toBe('EINVAL');
  });
  it('refuses bytes that are not UTF-8', () => {
    expect(parseEnvironmentFile(new Uint8Array([0x41, 0x3d, 0xff])).error?.code).toBe('EINVAL');
  });
});
