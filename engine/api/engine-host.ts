// Everything a host needs in one call: open the store, mark runs interrupted by a previous crash as
// failed, start the job runner and build the service. Used by the Electron main, the browser host and tests.
import { Store } from '../store/store';
import type { OpenDbOptions } from '../store/db';
import { JobRunner, recoverInterruptedRuns } from '../jobs/runner';
import { lockDataDir } from '../store/data-dir-lock';
import type { EventName, EventOf, FileRef } from '../../contract/ipc';
import type { Handlers } from './types';
import { StudioError, quote } from '../errors';
import { createService, type Service } from './service';
import type { ServiceDeps } from './types';

export interface StudioEngineOptions {
  dataDir: string;
  host: 'electron' | 'browser';
  version?: string;
  db?: OpenDbOptions;
  workerPath?: string;
  graceMs?: number;
  resolveFile?: (ref: FileRef) => string;
  checkExportPath?: (path: string) => string;
  overrides?: Handlers;
  /**
   * Accept test-only job kinds ('selftest', which can hang on request) in runs.start. Off in a normal
   * start; tests pass true, child-process tests set QSTUDIO_TEST_JOB_KINDS=1.
   */
  testJobKinds?: boolean;
}

export interface StudioEngine {
  store: Store;
  jobs: JobRunner;
  service: Service;
  /** Push-event listeners (the host forwards them to its windows / sockets). */
  onEvent(listener: (event: EventName, payload: unknown) => void): () => void;
  close(): Promise<void>;
}

export function startStudioEngine(opts: StudioEngineOptions): StudioEngine {
  // One process per data dir: a second one would take the first's runs for interrupted ones.
  const lock = lockDataDir(opts.dataDir, { host: opts.host, nativeBinding: opts.db?.nativeBinding, repoRoot: opts.db?.repoRoot });
  let store: Store;
  try {
    store = Store.open(opts.dataDir, opts.db);
    recoverInterruptedRuns(store);
  } catch (e) {
    lock.release();
    throw e;
  }
  const listeners = new Set<(event: EventName, payload: unknown) => void>();
  const emit = <E extends EventName>(event: E, payload: EventOf<E>) => { for (const l of listeners) l(event, payload); };
  const jobs = new JobRunner({ store, emit, workerPath: opts.workerPath, graceMs: opts.graceMs });
  const deps: ServiceDeps = {
    store, jobs, host: opts.host, version: opts.version ?? '0.1.0', emit,
    testJobKinds: opts.testJobKinds ?? process.env.QSTUDIO_TEST_JOB_KINDS === '1',
    resolveFile: opts.resolveFile ?? ((ref) => {
      if (ref.kind === 'path') return ref.path;
      throw new StudioError('NOT_FOUND', `Upload ${quote(ref.uploadId)} is unknown to this host.`);
    }),
    checkExportPath: opts.checkExportPath ?? ((p) => p),
  };
  const service = createService(deps, opts.overrides);
  return {
    store, jobs, service,
    onEvent(l) { listeners.add(l); return () => listeners.delete(l); },
    async close() {
      try {
        await jobs.shutdown();
        store.close();
      } finally {
        lock.release();
      }
    },
  };
}
