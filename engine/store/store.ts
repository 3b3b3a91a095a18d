// The studio's project store: one SQLite file (<dataDir>/studio.sqlite) plus one folder per project
// (<dataDir>/projects/<id>/: models/, datasets/, runs/<runId>/). Repositories return the contract's
// shapes (contract/ipc.ts), so the service hands them across IPC unchanged.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { ArtifactInfo, DatasetInfo, MetricInfo, ModelInfo, PipelineInfo, Project, RunInfo, RunStatus, TensorInfo, Json } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { mapSqliteError, openDatabase, type Db, type OpenDbOptions } from './db';
import { newOwner, ownerAlive, type ProcessOwner } from './process-owner';

export const DB_FILE = 'studio.sqlite';
const now = () => new Date().toISOString();
const newId = () => randomUUID().replace(/-/g, '').slice(0, 20);

type Row = Record<string, unknown>;
const parse = <T>(s: unknown, fallback: T): T => {
  if (typeof s !== 'string') return fallback;
  try { return JSON.parse(s) as T; } catch { return fallback; }
};

export class Store {
  readonly db: Db;
  readonly dataDir: string;
  readonly file: string;
  /** This open store's identity: runs it creates are owned by it, so recovery can tell whether their process is alive. */
  readonly owner: ProcessOwner & { release(): void };

  private constructor(dataDir: string, db: Db, file: string) {
    this.dataDir = dataDir;
    this.db = db;
    this.file = file;
    this.owner = newOwner();
  }

  static open(dataDir: string, opts: OpenDbOptions = {}): Store {
    const file = join(dataDir, DB_FILE);
    return new Store(dataDir, openDatabase(file, opts), file);
  }

  close(): void {
    this.owner.release();
    if (this.db.open) this.db.close();
  }

  projectDir(projectId: string): string {
    return join(this.dataDir, 'projects', projectId);
  }

  /** Run `fn` mapping SQLite failures to StudioErrors; `write` wraps it in one IMMEDIATE transaction. */
  private guard<T>(doing: string, fn: () => T, write = false): T {
    try {
      return write ? this.db.transaction(fn).immediate() : fn();
    } catch (e) {
      throw mapSqliteError(e, this.file, doing);
    }
  }

  private one<T>(what: string, id: string, row: Row | undefined, map: (r: Row) => T): T {
    if (!row) throw new StudioError('NOT_FOUND', `No ${what} with id ${quote(id)}.`);
    return map(row);
  }

  // ---------- projects ----------
  private projectOf = (r: Row): Project => ({
    id: r.id as string, name: r.name as string, description: r.description as string,
    createdAt: r.created_at as string, updatedAt: r.updated_at as string, dir: this.projectDir(r.id as string),
  });

  listProjects(): Project[] {
    return this.guard('listing projects', () => (this.db.prepare('SELECT * FROM projects ORDER BY created_at, rowid').all() as Row[]).map(this.projectOf));
  }
  getProject(id: string): Project {
    return this.guard('reading a project', () => this.one('project', id, this.db.prepare('SELECT * FROM projects WHERE id = ?').get(id) as Row | undefined, this.projectOf));
  }
  createProject(p: { name: string; description?: string }): Project {
    const name = p.name.trim();
    if (!name) throw new StudioError('BAD_ARGUMENT', `Project name ${quote(p.name)} is empty.`);
    const id = newId();
    const t = now();
    this.guard('creating a project', () => this.db.prepare('INSERT INTO projects (id, name, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run(id, name, p.description ?? '', t, t), true);
    return this.getProject(id);
  }
  renameProject(id: string, name: string): Project {
    const n = name.trim();
    if (!n) throw new StudioError('BAD_ARGUMENT', `Project name ${quote(name)} is empty.`);
    const r = this.guard('renaming a project', () => this.db.prepare('UPDATE projects SET name = ?, updated_at = ? WHERE id = ?').run(n, now(), id), true);
    if (r.changes === 0) throw new StudioError('NOT_FOUND', `No project with id ${quote(id)}.`);
    return this.getProject(id);
  }
  deleteProject(id: string): boolean {
    return this.guard('deleting a project', () => this.db.prepare('DELETE FROM projects WHERE id = ?').run(id).changes > 0, true);
  }

  // ---------- models ----------
  private modelOf = (r: Row): ModelInfo => ({
    id: r.id as string, projectId: r.project_id as string, name: r.name as string, file: r.file as string,
    sha256: r.sha256 as string, sizeBytes: r.size_bytes as number, opset: r.opset as number,
    inputs: parse<TensorInfo[]>(r.inputs_json, []), outputs: parse<TensorInfo[]>(r.outputs_json, []),
    nodeCount: r.node_count as number, createdAt: r.created_at as string,
  });
  listModels(projectId: string): ModelInfo[] {
    return this.guard('listing models', () => (this.db.prepare('SELECT * FROM models WHERE project_id = ? ORDER BY created_at, rowid').all(projectId) as Row[]).map(this.modelOf));
  }
  getModel(id: string): ModelInfo {
    return this.guard('reading a model', () => this.one('model', id, this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as Row | undefined, this.modelOf));
  }
  addModel(m: Omit<ModelInfo, 'id' | 'createdAt'> & { id?: string }): ModelInfo {
    const id = m.id ?? newId();
    this.guard('adding a model', () => {
      this.getProject(m.projectId);
      this.db.prepare('INSERT INTO models (id, project_id, name, file, sha256, size_bytes, opset, inputs_json, outputs_json, node_count, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)')
        .run(id, m.projectId, m.name, m.file, m.sha256, m.sizeBytes, m.opset, JSON.stringify(m.inputs), JSON.stringify(m.outputs), m.nodeCount, now());
    }, true);
    return this.getModel(id);
  }
  deleteModel(id: string): boolean {
    return this.guard('deleting a model', () => this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0, true);
  }

  // ---------- datasets ----------
  private datasetOf = (r: Row): DatasetInfo => ({
    id: r.id as string, projectId: r.project_id as string, name: r.name as string, kind: r.kind as DatasetInfo['kind'],
    file: r.file as string, options: parse<{ [k: string]: Json }>(r.options_json, {}), createdAt: r.created_at as string,
  });
  listDatasets(projectId: string): DatasetInfo[] {
    return this.guard('listing datasets', () => (this.db.prepare('SELECT * FROM datasets WHERE project_id = ? ORDER BY created_at, rowid').all(projectId) as Row[]).map(this.datasetOf));
  }
  getDataset(id: string): DatasetInfo {
    return this.guard('reading a dataset', () => this.one('dataset', id, this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as Row | undefined, this.datasetOf));
  }
  addDataset(d: Omit<DatasetInfo, 'id' | 'createdAt'> & { id?: string }): DatasetInfo {
    const id = d.id ?? newId();
    this.guard('adding a dataset', () => {
      this.getProject(d.projectId);
      this.db.prepare('INSERT INTO datasets (id, project_id, name, kind, file, options_json, created_at) VALUES (?,?,?,?,?,?,?)')
        .run(id, d.projectId, d.name, d.kind, d.file, JSON.stringify(d.options), now());
    }, true);
    return this.getDataset(id);
  }
  deleteDataset(id: string): boolean {
    return this.guard('deleting a dataset', () => this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0, true);
  }

  // ---------- pipelines ----------
  private pipelineOf = (r: Row): PipelineInfo => ({
    id: r.id as string, projectId: r.project_id as string, name: r.name as string,
    graph: parse<{ [k: string]: Json }>(r.graph_json, {}), createdAt: r.created_at as string, updatedAt: r.updated_at as string,
  });
  listPipelines(projectId: string): PipelineInfo[] {
    return this.guard('listing pipelines', () => (this.db.prepare('SELECT * FROM pipelines WHERE project_id = ? ORDER BY created_at, rowid').all(projectId) as Row[]).map(this.pipelineOf));
  }
  getPipeline(id: string): PipelineInfo {
    return this.guard('reading a pipeline', () => this.one('pipeline', id, this.db.prepare('SELECT * FROM pipelines WHERE id = ?').get(id) as Row | undefined, this.pipelineOf));
  }
  savePipeline(p: { projectId: string; id?: string; name: string; graph: { [k: string]: Json } }): PipelineInfo {
    const t = now();
    const id = p.id ?? newId();
    this.guard('saving a pipeline', () => {
      this.getProject(p.projectId);
      if (p.id) {
        const r = this.db.prepare('UPDATE pipelines SET name = ?, graph_json = ?, updated_at = ? WHERE id = ? AND project_id = ?').run(p.name, JSON.stringify(p.graph), t, p.id, p.projectId);
        if (r.changes === 0) throw new StudioError('NOT_FOUND', `No pipeline with id ${quote(p.id)} in project ${quote(p.projectId)}.`);
      } else {
        this.db.prepare('INSERT INTO pipelines (id, project_id, name, graph_json, created_at, updated_at) VALUES (?,?,?,?,?,?)').run(id, p.projectId, p.name, JSON.stringify(p.graph), t, t);
      }
    }, true);
    return this.getPipeline(id);
  }
  deletePipeline(id: string): boolean {
    return this.guard('deleting a pipeline', () => this.db.prepare('DELETE FROM pipelines WHERE id = ?').run(id).changes > 0, true);
  }

  // ---------- runs ----------
  private runOf = (r: Row): RunInfo => ({
    id: r.id as string, projectId: r.project_id as string, pipelineId: (r.pipeline_id as string | null) ?? null,
    kind: r.kind as string, status: r.status as RunStatus, progress: r.progress as number, stage: r.stage as string,
    message: r.message as string, params: parse<{ [k: string]: Json }>(r.params_json, {}),
    result: r.result_json == null ? null : parse<Json>(r.result_json, null),
    error: r.error_code ? { code: r.error_code as string, message: (r.error_message as string) ?? '' } : null,
    createdAt: r.created_at as string, startedAt: (r.started_at as string | null) ?? null, finishedAt: (r.finished_at as string | null) ?? null,
    timings: parse<Record<string, number>>(r.timings_json, {}),
  });
  listRuns(projectId: string): RunInfo[] {
    return this.guard('listing runs', () => (this.db.prepare('SELECT * FROM runs WHERE project_id = ? ORDER BY created_at DESC, rowid DESC').all(projectId) as Row[]).map(this.runOf));
  }
  getRun(id: string): RunInfo {
    return this.guard('reading a run', () => this.one('run', id, this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined, this.runOf));
  }
  createRun(r: { projectId: string; pipelineId?: string | null; kind: string; params: { [k: string]: Json } }): RunInfo {
    const id = newId();
    this.guard('creating a run', () => {
      this.getProject(r.projectId);
      if (r.pipelineId) this.getPipeline(r.pipelineId);
      this.db.prepare("INSERT INTO runs (id, project_id, pipeline_id, kind, status, params_json, created_at, owner_pid, owner_boot, owner_instance) VALUES (?,?,?,?, 'queued', ?, ?, ?, ?, ?)")
        .run(id, r.projectId, r.pipelineId ?? null, r.kind, JSON.stringify(r.params), now(), this.owner.pid, this.owner.boot, this.owner.instance);
    }, true);
    return this.getRun(id);
  }
  markRunStarted(id: string): void {
    this.guard('starting a run', () => this.db.prepare("UPDATE runs SET status = 'running', started_at = ? WHERE id = ?").run(now(), id), true);
  }
  updateRunProgress(id: string, p: { stage: string; fraction: number; message?: string }): void {
    this.guard('recording progress', () => this.db.prepare("UPDATE runs SET stage = ?, progress = ?, message = ? WHERE id = ? AND status = 'running'")
      .run(p.stage, Math.min(1, Math.max(0, p.fraction)), p.message ?? '', id), true);
  }
  /** The one way a run ends: status, result or error, timings, metrics and artifacts in one transaction. */
  finishRun(id: string, end: {
    status: Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled'>;
    result?: Json; error?: { code: string; message: string }; timings?: Record<string, number>;
    metrics?: { name: string; value: number; step?: number | null }[];
    artifacts?: { kind: string; file: string; sizeBytes: number; sha256: string }[];
  }): RunInfo {
    this.guard('finishing a run', () => {
      const run = this.getRun(id);
      this.db.prepare('UPDATE runs SET status = ?, progress = ?, result_json = ?, error_code = ?, error_message = ?, timings_json = ?, finished_at = ? WHERE id = ?').run(
        end.status, end.status === 'succeeded' ? 1 : run.progress, end.result === undefined ? null : JSON.stringify(end.result),
        end.error?.code ?? null, end.error?.message ?? null, JSON.stringify(end.timings ?? {}), now(), id);
      const m = this.db.prepare('INSERT INTO metrics (run_id, name, value, step) VALUES (?,?,?,?)');
      for (const x of end.metrics ?? []) if (Number.isFinite(x.value)) m.run(id, x.name, x.value, x.step ?? null);
      const a = this.db.prepare('INSERT INTO artifacts (id, run_id, project_id, kind, file, size_bytes, sha256, created_at) VALUES (?,?,?,?,?,?,?,?)');
      for (const x of end.artifacts ?? []) a.run(newId(), id, run.projectId, x.kind, x.file, x.sizeBytes, x.sha256, now());
    }, true);
    return this.getRun(id);
  }
  /**
   * Runs left 'running'/'queued' by a process that died: marked failed at startup. Only runs whose
   * owner is dead (or unknown: rows from before owners were recorded); a live process's runs are its own.
   * Returns the runs it marked, so the caller can clean their scratch folders.
   */
  recoverInterruptedRuns(): { id: string; projectId: string }[] {
    return this.guard('recovering interrupted runs', () => {
      const rows = this.db.prepare("SELECT id, project_id, owner_pid, owner_boot, owner_instance FROM runs WHERE status IN ('queued', 'running')").all() as Row[];
      const dead = rows.filter((r) => !ownerAlive({ pid: r.owner_pid as number | null, boot: r.owner_boot as string | null, instance: r.owner_instance as string | null }));
      const mark = this.db.prepare("UPDATE runs SET status = 'failed', error_code = 'JOB_FAILED', error_message = 'The studio stopped while this run was in progress.', finished_at = ? WHERE id = ? AND status IN ('queued', 'running')");
      const t = now();
      for (const r of dead) mark.run(t, r.id);
      return dead.map((r) => ({ id: r.id as string, projectId: r.project_id as string }));
    }, true);
  }
  failInterruptedRuns(): number {
    return this.recoverInterruptedRuns().length;
  }
  appendLog(runId: string, line: string): void {
    this.guard('writing a log line', () => {
      const row = this.db.prepare('SELECT coalesce(max(seq), 0) AS s FROM run_logs WHERE run_id = ?').get(runId) as { s: number };
      this.db.prepare('INSERT INTO run_logs (run_id, seq, time, line) VALUES (?,?,?,?)').run(runId, row.s + 1, now(), line.slice(0, 10_000));
    }, true);
  }
  listLogs(runId: string, after = 0): { seq: number; time: string; line: string }[] {
    return this.guard('reading logs', () => this.db.prepare('SELECT seq, time, line FROM run_logs WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT 5000').all(runId, after) as { seq: number; time: string; line: string }[]);
  }

  // ---------- metrics, artifacts ----------
  listMetrics(runId: string): MetricInfo[] {
    return this.guard('reading metrics', () => (this.db.prepare('SELECT run_id, name, value, step FROM metrics WHERE run_id = ? ORDER BY rowid').all(runId) as Row[])
      .map((r) => ({ runId: r.run_id as string, name: r.name as string, value: r.value as number, step: (r.step as number | null) ?? null })));
  }
  private artifactOf = (r: Row): ArtifactInfo => ({
    id: r.id as string, runId: r.run_id as string, projectId: r.project_id as string, kind: r.kind as string,
    file: r.file as string, sizeBytes: r.size_bytes as number, sha256: r.sha256 as string, createdAt: r.created_at as string,
  });
  listArtifacts(projectId: string, runId?: string): ArtifactInfo[] {
    return this.guard('listing artifacts', () => (runId
      ? this.db.prepare('SELECT * FROM artifacts WHERE project_id = ? AND run_id = ? ORDER BY rowid').all(projectId, runId)
      : this.db.prepare('SELECT * FROM artifacts WHERE project_id = ? ORDER BY rowid').all(projectId)) as Row[]).map(this.artifactOf);
  }
  getArtifact(id: string): ArtifactInfo {
    return this.guard('reading an artifact', () => this.one('artifact', id, this.db.prepare('SELECT * FROM artifacts WHERE id = ?').get(id) as Row | undefined, this.artifactOf));
  }

  // ---------- run notes (name, notes, tags) and run deletion ----------
  /** Every run of a project with its name (the stored one, else its pipeline's current name), notes and tags. */
  listRunNotes(projectId: string): { runId: string; name: string; notes: string; tags: string[]; pipelineName: string | null }[] {
    return this.guard('listing run notes', () => (this.db.prepare(`SELECT r.id AS run_id, n.name, n.notes, n.tags_json, p.name AS pipeline_name FROM runs r
      LEFT JOIN run_notes n ON n.run_id = r.id LEFT JOIN pipelines p ON p.id = r.pipeline_id WHERE r.project_id = ? ORDER BY r.created_at DESC, r.rowid DESC`).all(projectId) as Row[])
      .map((r) => ({ runId: r.run_id as string, name: (r.name as string | null) || (r.pipeline_name as string | null) || '', notes: (r.notes as string | null) ?? '', tags: JSON.parse((r.tags_json as string | null) ?? '[]') as string[], pipelineName: (r.pipeline_name as string | null) ?? null })));
  }
  setRunNotes(runId: string, patch: { name?: string; notes?: string; tags?: string[] }): void {
    this.getRun(runId);
    this.guard('saving run notes', () => {
      const cur = this.db.prepare('SELECT name, notes, tags_json FROM run_notes WHERE run_id = ?').get(runId) as Row | undefined;
      const name = patch.name ?? (cur?.name as string | undefined) ?? '';
      const notes = patch.notes ?? (cur?.notes as string | undefined) ?? '';
      const tags = JSON.stringify(patch.tags ?? JSON.parse((cur?.tags_json as string | undefined) ?? '[]'));
      this.db.prepare('INSERT INTO run_notes (run_id, name, notes, tags_json, updated_at) VALUES (?,?,?,?,?) ON CONFLICT(run_id) DO UPDATE SET name = excluded.name, notes = excluded.notes, tags_json = excluded.tags_json, updated_at = excluded.updated_at')
        .run(runId, name, notes, tags, now());
    }, true);
  }
  /** Removes a finished run's row (its logs, metrics, artifacts and notes cascade); the caller removes its folder. */
  deleteRun(id: string): boolean {
    return this.guard('deleting a run', () => this.db.prepare("DELETE FROM runs WHERE id = ? AND status NOT IN ('queued', 'running')").run(id).changes > 0, true);
  }
}
