// Opening the studio database: better-sqlite3 with WAL, foreign keys, a busy timeout, an integrity
// quick-check and the versioned migrations. SQLite errors become StudioErrors with clear codes:
// DB_CORRUPT (not a database / malformed), DB_LOCKED (another process holds the write lock), DB_ERROR.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { StudioError, quote } from '../errors';
import { MIGRATIONS, type Migration } from './migrations';
import { chooseSqliteBinding } from './native-binding';

export type Db = Database.Database;

export interface OpenDbOptions {
  /** How long a write waits for another process's lock before DB_LOCKED (ms). */
  busyTimeoutMs?: number;
  /** An explicit better-sqlite3 binary (see native-binding.ts); default: chosen by runtime. */
  nativeBinding?: string;
  repoRoot?: string;
  migrations?: Migration[];
}

export function mapSqliteError(e: unknown, file: string, doing: string): StudioError {
  if (e instanceof StudioError) return e;
  const code = (e as { code?: string }).code ?? '';
  const msg = (e as Error).message ?? String(e);
  if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
    return new StudioError('DB_CORRUPT', `The studio database ${quote(file)} is damaged (${code}: ${msg}) while ${doing}. Restore a backup or move the file away to start fresh; project folders beside it are untouched.`, { cause: e });
  }
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) {
    return new StudioError('DB_LOCKED', `The studio database ${quote(file)} is locked by another process (${code}) while ${doing}. Close the other Quant Studio window or CLI using this data folder and try again.`, { cause: e });
  }
  if (/^SQLITE_(CANTOPEN|READONLY|IOERR|FULL|PERM)/.test(code)) {
    return new StudioError('DB_ERROR', `Cannot use the studio database ${quote(file)} (${code}: ${msg}) while ${doing}.`, { cause: e });
  }
  if (code === 'ERR_DLOPEN_FAILED' || /NODE_MODULE_VERSION|was compiled against a different Node/.test(msg)) {
    return new StudioError('NATIVE_UNAVAILABLE', `better-sqlite3's binary does not load in this runtime: ${msg}`, { cause: e });
  }
  return new StudioError('DB_ERROR', `Database error on ${quote(file)} while ${doing}: ${msg}`, { cause: e });
}

export function openDatabase(file: string, opts: OpenDbOptions = {}): Db {
  mkdirSync(dirname(file), { recursive: true });
  const choice = opts.nativeBinding ? { nativeBinding: opts.nativeBinding, runtime: 'node', tried: [opts.nativeBinding] } : chooseSqliteBinding({ repoRoot: opts.repoRoot });
  let db: Db;
  try {
    db = new Database(file, { timeout: opts.busyTimeoutMs ?? 5000, ...(choice.nativeBinding ? { nativeBinding: choice.nativeBinding } : {}) });
  } catch (e) {
    const mapped = mapSqliteError(e, file, 'opening it');
    if (mapped.code === 'NATIVE_UNAVAILABLE') {
      throw new StudioError('NATIVE_UNAVAILABLE', `${mapped.message}\nTried (${choice.runtime}): ${choice.tried.join(', ')}. For Electron build one with \`node electron/scripts/build-sqlite-electron.mjs\` (needs network) or set QSTUDIO_SQLITE_BINDING.`, { cause: e });
    }
    throw mapped;
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('foreign_keys = ON');
    db.pragma('synchronous = NORMAL');
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw new StudioError('DB_CORRUPT', `The studio database ${quote(file)} failed its integrity check: ${quote(check)}. Restore a backup or move the file away to start fresh.`);
    migrate(db, opts.migrations ?? MIGRATIONS);
  } catch (e) {
    db.close();
    throw mapSqliteError(e, file, 'opening it');
  }
  return db;
}

export function schemaVersion(db: Db): number {
  const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

export function migrate(db: Db, migrations: Migration[]): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
  const current = schemaVersion(db);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (current > known) {
    throw new StudioError('DB_ERROR', `The studio database has schema version ${current}, newer than this Quant Studio knows (${known}). Update the app.`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
    }).immediate();
  }
}
