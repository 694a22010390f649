/**
 * The last lines logged for each unit, in memory, for `mptcpd-lite status UNIT` (what journalctl
 * -u shows under `systemctl status`). Bounded: `perUnit` lines per unit, and units that are gone
 * are forgotten with their lines.
 */

export interface JournalLine {
  /** ISO 8601. */
  time: string;
  level: string;
  message: string;
}

export const DEFAULT_LINES_PER_UNIT = 200;

export class UnitJournal {
  private readonly lines = new Map<string, JournalLine[]>();

  constructor(private readonly perUnit = DEFAULT_LINES_PER_UNIT) {}

  add(unit: string, level: string, message: string): void {
    let ring = this.lines.get(unit);
    if (!ring) {
      ring = [];
      this.lines.set(unit, ring);
    }
    ring.push({ time: new Date().toISOString(), level, message });
    if (ring.length > this.perUnit) ring.splice(0, ring.length - this.perUnit);
  }

  /** The last `n` lines of `unit`, oldest first. */
  tail(unit: string, n: number): JournalLine[] {
    const ring = this.lines.get(unit) ?? [];
    return n <= 0 ? [] : ring.slice(-n);
  }

  /** Drops the lines of units not in `keep` (after a reload removed them). */
  retain(keep: ReadonlySet<string>): void {
    for (const unit of this.lines.keys()) if (!keep.has(unit) && !unit.includes('@')) this.lines.delete(unit);
  }
}
