// Who owns a run, an upload folder or the data-dir lock: a process id plus the machine's boot id (a pid
// is reused after a reboot, so a pid alone cannot tell a dead owner from a new, unrelated process), plus
// an instance id per open Store (one process may open and close several engines on one data dir, e.g.
// tests; a closed instance's runs are as dead as a killed process's).
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pidAlive } from '../util/stale-temp-files';

export { pidAlive };

export interface ProcessOwner { pid: number; boot: string; instance: string }

let cachedBoot: string | undefined;

/** Linux: /proc/sys/kernel/random/boot_id. Elsewhere '' (unknown): liveness falls back to the pid alone. */
export function bootId(): string {
  if (cachedBoot === undefined) {
    try { cachedBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch { cachedBoot = ''; }
  }
  return cachedBoot;
}

const liveInstances = new Set<string>();

/** A new owner identity for this process; alive until release()d (or the process dies). */
export function newOwner(): ProcessOwner & { release(): void } {
  const instance = randomBytes(8).toString('hex');
  liveInstances.add(instance);
  return { pid: process.pid, boot: bootId(), instance, release: () => void liveInstances.delete(instance) };
}

/**
 * Is the owner still alive? Another boot: dead. This process: alive only while the instance is open.
 * Another pid: alive while that pid runs (a reused pid on the same boot errs on the side of "alive":
 * its leftovers stay until it exits rather than another process's files being removed).
 */
export function ownerAlive(o: { pid: number | null | undefined; boot?: string | null; instance?: string | null }): boolean {
  if (o.pid == null) return false;
  const boot = bootId();
  if (o.boot && boot && o.boot !== boot) return false;
  if (o.pid === process.pid) return o.instance ? liveInstances.has(o.instance) : true;
  return pidAlive(o.pid);
}
