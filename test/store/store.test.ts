// The project store on real SQLite files: migrations, repositories, cascades, and the clear errors
// for a corrupt, locked or too-new database.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, existsSync, openSync, writeSync, closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Store, DB_FILE } from '../../engine/store/store';
import { schemaVersion, openDatabase } from '../../engine/store/db';
import { MIGRATIONS } from '../../engine/store/migrations';
import { chooseSqliteBinding } from '../../engine/store/native-binding';
import { defaultDataDir, dataDirFromArgs } from '../../engine/store/data-dir';
import { StudioError } from '../../engine/errors';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'qs-store-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(f: () => unknown): string | undefined {
  try { f(); } catch (e) { return (e as StudioError).code; }
  return undefined;
}

describe('store: schema', () => {
  it('creates the file with WAL, foreign keys and the latest schema version', () => {
    const s = Store.open(dir);
    try {
      expect(existsSync(join(dir, DB_FILE))).toBe(true);
      expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(s.db.pragma('foreign_keys', { simple: true })).toBe(1);
      expect(schemaVersion(s.db)).toBe(Math.max(...MIGRATIONS.map((m) => m.version)));
      const tables = (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
      for (const t of ['projects', 'models', 'datasets', 'pipelines', 'runs', 'run_logs', 'metrics', 'artifacts', 'schema_version']) expect(tables).toContain(t);
    } finally { s.close(); }
  });

  it('applies only new migrations, once, in order', () => {
    const file = join(dir, 'm.sqlite');
    const m1 = { version: 1, name: 'a', sql: 'CREATE TABLE a (x INTEGER);' };
    const m2 = { version: 2, name: 'b', sql: 'CREATE TABLE b (y INTEGER);' };
    openDatabase(file, { migrations: [m1] }).close();
    const db = openDatabase(file, { migrations: [m2, m1] });
    try {
      expect(schemaVersion(db)).toBe(2);
      expect((db.prepare('SELECT count(*) AS n FROM schema_version').get() as { n: number }).n).toBe(2);
    } finally { db.close(); }
  });

  it('refuses a database from a newer studio', () => {
    const file = join(dir, 'new.sqlite');
    openDatabase(file, { migrations: [{ version: 7, name: 'future', sql: 'CREATE TABLE f (x);' }] }).close();
    expect(() => openDatabase(file, { migrations: [{ version: 1, name: 'a', sql: 'CREATE TABLE a (x);' }] })).toThrow(/schema version 7, newer/);
  });
});

describe('store: repositories', () => {
  it('projects, models, datasets, pipelines, runs, metrics and artifacts round-trip; deleting a project cascades', () => {
    const s = Store.open(dir);
    try {
      const p = s.createProject({ name: '  CNN  ', description: 'fmnist' });
      expect(p.name).toBe('CNN');
      expect(p.dir).toBe(join(dir, 'projects', p.id));
      expect(s.renameProject(p.id, 'CNN int8').name).toBe('CNN int8');
      const m = s.addModel({ projectId: p.id, name: 'cnn', file: 'models/cnn.onnx', sha256: 'a'.repeat(64), sizeBytes: 10, opset: 17,
        inputs: [{ name: 'image', elemType: 'FLOAT', shape: ['N', 1, 28, 28] }], outputs: [{ name: 'logits', elemType: 'FLOAT', shape: ['N', 10] }], nodeCount: 9 });
      expect(s.getModel(m.id).inputs[0]!.shape).toEqual(['N', 1, 28, 28]);
      const d = s.addDataset({ projectId: p.id, name: 'calib', kind: 'npy', file: 'datasets/x.npy', options: { samples: 64 } });
      expect(s.listDatasets(p.id)[0]!.options).toEqual({ samples: 64 });
      const pl = s.savePipeline({ projectId: p.id, name: 'ptq', graph: { nodes: [{ id: 'n1' }], edges: [] } });
      expect(s.savePipeline({ projectId: p.id, id: pl.id, name: 'ptq2', graph: { nodes: [] } }).name).toBe('ptq2');
      const r = s.createRun({ projectId: p.id, pipelineId: pl.id, kind: 'quantize', params: { modelId: m.id } });
      expect(r.status).toBe('queued');
      s.markRunStarted(r.id);
      s.updateRunProgress(r.id, { stage: 'calibrate', fraction: 0.5 });
      expect(s.getRun(r.id)).toMatchObject({ status: 'running', stage: 'calibrate', progress: 0.5 });
      s.appendLog(r.id, 'one');
      s.appendLog(r.id, 'two');
      expect(s.listLogs(r.id).map((l) => [l.seq, l.line])).toEqual([[1, 'one'], [2, 'two']]);
      const done = s.finishRun(r.id, { status: 'succeeded', result: { ok: 1 }, timings: { totalMs: 5 }, metrics: [{ name: 'top1', value: 0.93 }],
        artifacts: [{ kind: 'model', file: `runs/${r.id}/m.onnx`, sizeBytes: 3, sha256: 'b'.repeat(64) }] });
      expect(done).toMatchObject({ status: 'succeeded', progress: 1, result: { ok: 1 }, timings: { totalMs: 5 } });
      expect(s.listMetrics(r.id)).toEqual([{ runId: r.id, name: 'top1', value: 0.93, step: null }]);
      expect(s.listArtifacts(p.id)).toHaveLength(1);
      expect(s.deleteProject(p.id)).toBe(true);
      for (const t of ['models', 'datasets', 'pipelines', 'runs', 'run_logs', 'metrics', 'artifacts']) {
        expect((s.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n, t).toBe(0);
      }
      expect(d.id).toBeTruthy();
    } finally { s.close(); }
  });

  it('names missing rows and refuses orphans', () => {
    const s = Store.open(dir);
    try {
      expect(() => s.getProject('nope')).toThrow(/No project with id '"nope"'/);
      expect(codeOf(() => s.createRun({ projectId: 'nope', kind: 'selftest', params: {} }))).toBe('NOT_FOUND');
      expect(codeOf(() => s.createProject({ name: '   ' }))).toBe('BAD_ARGUMENT');
      // foreign keys are enforced by SQLite itself too
      expect(codeOf(() => s.addModel({ projectId: 'ghost', name: 'x', file: 'x', sha256: 'a'.repeat(64), sizeBytes: 0, opset: 1, inputs: [], outputs: [], nodeCount: 0 }))).toBe('NOT_FOUND');
      expect(() => s.db.prepare("INSERT INTO models (id, project_id, name, file, sha256, size_bytes, opset, inputs_json, outputs_json, node_count, created_at) VALUES ('m','ghost','x','x','x',0,1,'[]','[]',0,'t')").run()).toThrow(/FOREIGN KEY/);
    } finally { s.close(); }
  });

  it('marks runs left running by a dead process as failed', () => {
    const s = Store.open(dir);
    const p = s.createProject({ name: 'p' });
    const r = s.createRun({ projectId: p.id, kind: 'selftest', params: {} });
    s.markRunStarted(r.id);
    s.close();
    const s2 = Store.open(dir);
    try {
      expect(s2.failInterruptedRuns()).toBe(1);
      expect(s2.getRun(r.id)).toMatchObject({ status: 'failed', error: { code: 'JOB_FAILED' } });
    } finally { s2.close(); }
  });
});

describe('store: damaged or busy databases', () => {
  it('a file that is not a database gives DB_CORRUPT naming the file', () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, DB_FILE), Buffer.alloc(8192, 0x41));
    let err: StudioError | undefined;
    try { Store.open(dir); } catch (e) { err = e as StudioError; }
    expect(err?.code).toBe('DB_CORRUPT');
    expect(err?.message).toContain(join(dir, DB_FILE));
  });

  it('a database with a damaged page gives DB_CORRUPT', () => {
    const s = Store.open(dir);
    for (let i = 0; i < 300; i++) s.createProject({ name: `p${i}`.padEnd(150, 'x') });
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    s.close();
    const file = join(dir, DB_FILE);
    const raw = new Database(file);
    const pageSize = raw.pragma('page_size', { simple: true }) as number;
    raw.close();
    const fd = openSync(file, 'r+');
    // Overwrite the b-tree pages of the data (keep page 1, the header) with garbage.
    writeSync(fd, Buffer.alloc(pageSize * 4, 0xff), 0, pageSize * 4, pageSize * 2);
    closeSync(fd);
    let code: string | undefined;
    try { const s2 = Store.open(dir); s2.listProjects(); s2.close(); } catch (e) { code = (e as StudioError).code; }
    expect(code).toBe('DB_CORRUPT');
  });

  it('a write while another process holds the lock gives DB_LOCKED', () => {
    const s = Store.open(dir, { busyTimeoutMs: 50 });
    const other = new Database(join(dir, DB_FILE));
    try {
      other.prepare('BEGIN EXCLUSIVE').run();
      let err: StudioError | undefined;
      try { s.createProject({ name: 'blocked' }); } catch (e) { err = e as StudioError; }
      expect(err?.code).toBe('DB_LOCKED');
      expect(err?.message).toMatch(/locked by another process/);
      other.prepare('ROLLBACK').run();
      expect(s.createProject({ name: 'now ok' }).name).toBe('now ok');
    } finally {
      other.close();
      s.close();
    }
  });
});

describe('store: where data lives and which sqlite binary', () => {
  it('data dir: --data-dir, then QSTUDIO_HOME, then the OS app-data folder', () => {
    expect(dataDirFromArgs(['--data-dir', '/x/y'], {})).toBe('/x/y');
    expect(dataDirFromArgs(['--data-dir=/x/z'], {})).toBe('/x/z');
    expect(defaultDataDir({ QSTUDIO_HOME: '/h' }, 'linux')).toBe('/h');
    expect(defaultDataDir({ XDG_DATA_HOME: '/xdg' }, 'linux')).toBe('/xdg/quant-studio/projects');
    expect(defaultDataDir({ APPDATA: 'C:/Users/u/AppData/Roaming' }, 'win32')).toContain(join('Quant Studio', 'projects'));
  });

  it('Node uses the package build; Electron picks an Electron build when one exists', () => {
    const n = chooseSqliteBinding({ env: {}, versions: { node: '20' } as NodeJS.ProcessVersions });
    expect(n.runtime).toBe('node');
    expect(n.nativeBinding).toBeUndefined();
    const res = join(dir, 'res');
    mkdirSync(join(res, 'native'), { recursive: true });
    writeFileSync(join(res, 'native', 'better_sqlite3.node'), '');
    const e = chooseSqliteBinding({ env: {}, versions: { node: '22', electron: '41.7.1' } as NodeJS.ProcessVersions, resourcesPath: res, repoRoot: dir });
    expect(e).toMatchObject({ runtime: 'electron', nativeBinding: join(res, 'native', 'better_sqlite3.node') });
    const none = chooseSqliteBinding({ env: {}, versions: { node: '22', electron: '41.7.1' } as NodeJS.ProcessVersions, resourcesPath: join(dir, 'nores'), repoRoot: dir });
    expect(none.nativeBinding).toBeUndefined();
    expect(none.tried).toContain(join(dir, '.native', 'electron', 'better_sqlite3.node'));
  });

  it('an explicit nativeBinding is what gets loaded (the Node build here)', () => {
    const nodeBuild = createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node');
    const db = openDatabase(join(dir, 'b.sqlite'), { nativeBinding: nodeBuild });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    let err: StudioError | undefined;
    try { openDatabase(join(dir, 'c.sqlite'), { nativeBinding: join(dir, 'missing.node') }); } catch (e) { err = e as StudioError; }
    expect(err).toBeInstanceOf(StudioError);
  });
});
