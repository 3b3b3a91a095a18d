// One studio process per data dir. Two hosts on one folder each believe they own the runs and the
// uploads: the second marked the first's running runs failed and deleted its uploads on stop.
//
// The lock is an exclusive SQLite lock (locking_mode=EXCLUSIVE on <dataDir>/studio.lock), i.e. an OS
// file lock: the kernel drops it when the holder dies, however it dies, so there is no stale lock to
// detect and no race between two starters deciding that a lock is stale. (A lock file refreshed by a
// timer, like proper-lockfile's, is declared stale when the holder's main thread is blocked for longer
// than the refresh period, and is left behind by kill -9 until that period passes.) Who holds it is
// written beside it (studio.lock.json: pid, boot id, host, start time) so the refusal can name them.
import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StudioError, quote } from '../errors';
import { chooseSqliteBinding } from './native-binding';
import { mapSqliteError } from './db';
import { bootId } from './process-owner';

export const LOCK_FILE = 'studio.lock';
export const LOCK_INFO_FILE = 'studio.lock.json';

export interface DataDirLock {
  dataDir: string;
  release(): void;
}

interface HolderInfo { pid: number; boot: string; host: string; startedAt: string; argv?: string }

function readHolder(dataDir: string): HolderInfo | undefined {
  try { return JSON.parse(readFileSync(join(dataDir, LOCK_INFO_FILE), 'utf8')) as HolderInfo; } catch { return undefined; }
}

/** Take the data dir's lock or throw DB_LOCKED naming the folder and the process that holds it. */
/** `nativeBinding` / `repoRoot`: as for openDatabase (the Electron build loads its own better-sqlite3 binary). */
export function lockDataDir(dataDir: string, opts: { host: string; nativeBinding?: string; repoRoot?: string }): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const binding = opts.nativeBinding ?? chooseSqliteBinding({ repoRoot: opts.repoRoot }).nativeBinding;
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: 0, ...(binding ? { nativeBinding: binding } : {}) });
  } catch (e) {
    throw mapSqliteError(e, file, "opening the data folder's lock");
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the EXCLUSIVE lock; in this locking mode it is kept until close().
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder; INSERT INTO holder VALUES (' + process.pid + '); COMMIT;');
  } catch (e) {
    db.close();
    const code = (e as { code?: string }).code ?? '';
    if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
      const h = readHolder(dir);
      const who = h ? `process ${h.pid} (${h.host}, started ${h.startedAt}${h.boot && h.boot !== bootId() ? ', another boot' : ''}${h.argv ? `: ${h.argv}` : ''})` : 'another process';
      throw new StudioError('DB_LOCKED', `The data folder ${quote(dir)} is in use by ${who}. One Quant Studio process per data folder: stop that one, or start with another --data-dir.`, { cause: e });
    }
    throw new StudioError('DB_ERROR', `Cannot lock the data folder ${quote(dir)} (${code}): ${(e as Error).message}`, { cause: e });
  }
  const info: HolderInfo = { pid: process.pid, boot: bootId(), host: opts.host, startedAt: new Date().toISOString(), argv: process.argv.slice(1).join(' ').slice(0, 300) };
  const tmp = join(dir, `.${LOCK_INFO_FILE}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, JSON.stringify(info));
    renameSync(tmp, join(dir, LOCK_INFO_FILE));
  } catch { /* the info only improves the message another process prints */ }
  let released = false;
  return {
    dataDir: dir,
    release() {
      if (released) return;
      released = true;
      if (readHolder(dir)?.pid === process.pid) rmSync(join(dir, LOCK_INFO_FILE), { force: true });
      db.close();
    },
  };
}
