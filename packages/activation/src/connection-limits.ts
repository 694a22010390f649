/**
 * MaxConnections= and MaxConnectionsPerSource= bookkeeping for one Accept=yes socket, with systemd's
 * order and wording (socket_enter_running()): the global limit first, then the per-source one.
 */
export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; reason: 'max-connections' | 'max-connections-per-source'; message: string };

export class ConnectionLimits {
  connections = 0;
  /** Created at the first connection counted per source: most sockets never have one (~0.2 KB each). */
  private perSource: Map<string, number> | undefined;

  constructor(
    public maxConnections: number,
    public maxPerSource: number,
  ) {}

  /** Admits one connection from `source` (printed as `sourceText`), or says why not. */
  admit(source: string, sourceText: string): Admission {
    if (this.connections >= this.maxConnections) {
      return {
        ok: false,
        reason: 'max-connections',
        message: `Too many incoming connections (${this.connections}), dropping connection.`,
      };
    }
    let counted = false;
    if (this.maxPerSource > 0) {
      this.perSource ??= new Map();
      const n = (this.perSource.get(source) ?? 0) + 1;
      if (n > this.maxPerSource) {
        return {
          ok: false,
          reason: 'max-connections-per-source',
          message: `Too many incoming connections (${n}) from source ${sourceText}, dropping connection.`,
        };
      }
      this.perSource.set(source, n);
      counted = true;
    }
    this.connections += 1;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.connections -= 1;
        if (counted && this.perSource) {
          const n = (this.perSource.get(source) ?? 1) - 1;
          if (n <= 0) this.perSource.delete(source);
          else this.perSource.set(source, n);
        }
      },
    };
  }

  /** Current connections per source (for status). */
  sources(): Record<string, number> {
    return this.perSource ? Object.fromEntries(this.perSource) : {};
  }
}
