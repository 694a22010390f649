/**
 * systemd 257's transaction_verify_order() (transaction.c): a transaction whose start jobs are ordered
 * in a cycle is repaired by deleting one job that does not matter to the anchor (a unit pulled in by
 * Wants=/Upholds= only, never the anchor), then checked again; when every job of the cycle matters
 * (Requires=/BindsTo= all the way), the transaction is refused. Recorded with the oracle:
 * test/fixtures/v257/ordering-cycle.
 *
 * 257 walks the jobs in hashmap order, so which job of a cycle its lines start with varies from run to
 * run; here the walk starts at the anchor, then goes in the order the units were pulled in.
 */

/** One job pulling in another (job.c JobDependency): `matters` for Requires=/BindsTo=, not for Wants=. */
export interface PullLink {
  subject: string;
  object: string;
  matters: boolean;
}

export interface OrderCheck {
  /** The units with a start job, the anchor first, in the order they were pulled in. */
  jobs: readonly string[];
  anchor: string;
  /** For each unit, the units it waits for (its After=, and Before= of the others naming it). */
  after: ReadonlyMap<string, ReadonlySet<string>>;
  links: readonly PullLink[];
}

export interface OrderLogger {
  /** A line about unit `unit` at `level` (257: warning for the cycle, err for its outcome). */
  (level: 'warn' | 'error', unit: string, text: string): void;
}

/** What is left of the transaction: the units whose jobs were deleted, or the refusal. */
export type OrderResult = { ok: true; deleted: string[] } | { ok: false };

/** The message of 257's BUS_ERROR_TRANSACTION_ORDER_IS_CYCLIC. */
export const ORDER_IS_CYCLIC = 'Transaction order is cyclic. See system logs for details.';

/** transaction_verify_order() with its retries (transaction_activate(), steps four and five). */
export function verifyOrder(check: OrderCheck, log: OrderLogger): OrderResult {
  const jobs = new Set(check.jobs);
  let links = [...check.links];
  const matters = mattersToAnchor(check.anchor, links);
  const deleted: string[] = [];
  const remove = (unit: string): void => {
    if (!jobs.delete(unit)) return;
    deleted.push(unit);
    // transaction_unlink_job(…, delete_dependencies): a job that required it goes too.
    const requiring = links.filter((l) => l.object === unit && l.matters).map((l) => l.subject);
    links = links.filter((l) => l.object !== unit && l.subject !== unit);
    for (const s of requiring) remove(s);
  };
  const collectGarbage = (): void => {
    for (let again = true; again;) {
      again = false;
      for (const j of jobs)
        if (j !== check.anchor && !links.some((l) => l.object === j)) {
          remove(j);
          again = true;
          break;
        }
    }
  };
  for (;;) {
    collectGarbage();
    const r = verifyOnce(check, jobs, matters, log);
    if (r === undefined) return { ok: true, deleted };
    if (r === false) return { ok: false };
    remove(r);
  }
}

/** transaction_find_jobs_that_matter_to_anchor(): reachable from the anchor over links that matter. */
function mattersToAnchor(anchor: string, links: readonly PullLink[]): Set<string> {
  const out = new Set<string>([anchor]);
  const walk = (u: string): void => {
    for (const l of links)
      if (l.subject === u && l.matters && !out.has(l.object)) {
        out.add(l.object);
        walk(l.object);
      }
  };
  walk(anchor);
  return out;
}

/**
 * One sweep (transaction_verify_order_one() from each job): undefined when the order has no cycle,
 * the unit whose job to delete, or false when the cycle cannot be broken.
 */
function verifyOnce(
  check: OrderCheck,
  jobs: ReadonlySet<string>,
  matters: ReadonlySet<string>,
  log: OrderLogger,
): string | false | undefined {
  // The way back along the current path (the start points to itself); absent once a job is done.
  const marker = new Map<string, string>();
  const seen = new Set<string>();
  const later = (j: string): string[] => [...jobs].filter((o) => check.after.get(o)?.has(j) ?? false);
  const visit = (j: string, from: string | undefined): string | false | undefined => {
    if (seen.has(j)) {
      if (!marker.has(j)) return undefined;
      // A cycle: back from `from` to j, the first job that does not matter is the one to delete.
      const path: string[] = [];
      let drop: string | undefined;
      for (let k: string | undefined = from; k !== undefined;) {
        path.push(k);
        if (drop === undefined && jobs.has(k) && !matters.has(k)) drop = k;
        if (k === j) break;
        const back: string | undefined = marker.get(k);
        k = back === k ? undefined : back;
      }
      path.forEach((k, i) => log('warn', j, `Found ${i === 0 ? 'ordering cycle' : 'dependency'} on ${k}/start`));
      if (drop !== undefined) {
        log('error', j, `Job ${drop}/start deleted to break ordering cycle starting with ${j}/start`);
        return drop;
      }
      log('error', j, `Unable to break cycle starting with ${j}/start`);
      return false;
    }
    seen.add(j);
    marker.set(j, from ?? j);
    for (const o of later(j)) {
      const r = visit(o, j);
      if (r !== undefined) return r;
    }
    marker.delete(j);
    return undefined;
  };
  for (const j of jobs) {
    const r = visit(j, undefined);
    if (r !== undefined) return r;
  }
  return undefined;
}
