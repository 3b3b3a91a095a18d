// The service's shape: one handler per contract channel. Hosts (Electron main, browser host, tests)
// build a Service with createService() and call dispatch(channel, rawRequest) for each call.
import type { Channel, RequestOf, ResponseOf, EventName, EventOf, FileRef } from '../../contract/ipc';
import type { Store } from '../store/store';
import type { JobRunner } from '../jobs/runner';

export interface ServiceDeps {
  store: Store;
  jobs: JobRunner;
  host: 'electron' | 'browser';
  version: string;
  /**
   * Turns a FileRef into a readable local path, or throws. Hosts decide the policy: Electron accepts
   * only paths its dialogs returned; the browser host accepts its uploads (and paths only when started
   * with allowPaths, e.g. in tests).
   */
  resolveFile: (ref: FileRef) => string;
  /** Checks an export destination chosen by the user (same policy idea as resolveFile). */
  checkExportPath: (path: string) => string;
  emit: <E extends EventName>(event: E, payload: EventOf<E>) => void;
  /** runs.start accepts test-only job kinds ('selftest'); false in a normal start. */
  testJobKinds?: boolean;
  /** Where the sample projects are (default: projects-sample/ beside the app). */
  samplesDir?: string;
}

export type Handler<C extends Channel> = (request: RequestOf<C>, deps: ServiceDeps) => Promise<ResponseOf<C>> | ResponseOf<C>;
export type Handlers = { [C in Channel]?: Handler<C> };
