// Temp files of atomic writes are named `.<target name>.<pid>.<random>.tmp` beside their target. A
// process killed between the write and the rename leaves one behind, next to the user's output, for
// good. Before writing a target we remove its temp files whose writer process is gone; a live
// writer's (this process's, or another running one's) are left alone.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** The temp name for an atomic write of `name` by this process. */
export function tempNameFor(name: string, random: string): string {
  return `.${name}.${process.pid}.${random}.tmp`;
}

/** Is a process still running? EPERM: it exists but belongs to another user. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Remove `.<name>.<pid>.<hex>.tmp` files in `dir` whose pid is not running. Returns how many went. */
export function removeDeadTempFiles(dir: string, name: string): number {
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return 0; }
  const re = new RegExp(`^\\.${escape(name)}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
  let removed = 0;
  for (const e of entries) {
    const m = re.exec(e);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try { rmSync(join(dir, e), { force: true }); removed++; } catch { /* not ours to fight over */ }
  }
  return removed;
}
