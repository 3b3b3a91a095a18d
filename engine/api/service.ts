// The service every host drives: validate the request against the contract, run the handler, validate
// the answer, and return the wire envelope `{ ok: true, value } | { ok: false, error: { code, message } }`.
// Handler modules (one per domain, each a map of `(request, deps) => answer`) are composed here: add
// yours to `handlerModules` (one line). A later module's handler for a channel replaces an earlier one's.
import { channels, isChannel, validateRequest, validateResponse, ContractError, type Channel, type Result } from '../../contract/ipc';
import { toErrorPayload } from '../errors';
import { appHandlers } from './app';
import { projectHandlers } from './projects';
import { modelHandlers } from './models';
import { datasetHandlers } from './datasets';
import { pipelineHandlers } from './pipelines';
import { runHandlers } from './runs';
import { artifactHandlers } from './artifacts';
import { sampleHandlers } from './samples';
import { tensorHandlers } from './tensors';
import { hardwareHandlers } from './hardware';
import { datasetCheckHandlers } from './dataset-check';
import { runNotesHandlers } from './run-notes';
import { sensitivityHandlers } from './sensitivity';
import type { Handler, Handlers, ServiceDeps } from './types';

export const handlerModules: Handlers[] = [
  appHandlers,
  projectHandlers,
  modelHandlers,
  datasetHandlers,
  pipelineHandlers,
  runHandlers,
  artifactHandlers,
  sampleHandlers,
  tensorHandlers,
  hardwareHandlers,
  datasetCheckHandlers,
  runNotesHandlers,
  sensitivityHandlers,
  // add handler maps here
];

export interface Service {
  deps: ServiceDeps;
  handlers: Handlers;
  dispatch(channel: unknown, request: unknown): Promise<Result<unknown>>;
}

export function createService(deps: ServiceDeps, overrides: Handlers = {}): Service {
  const handlers: Handlers = Object.assign({}, ...handlerModules, overrides);
  return {
    deps,
    handlers,
    async dispatch(channel, request) {
      try {
        if (!isChannel(channel)) throw new ContractError(`Unknown channel ${JSON.stringify(String(channel).slice(0, 80))} (known: ${Object.keys(channels).length} channels).`);
        const req = validateRequest(channel, request);
        const h = handlers[channel] as Handler<Channel> | undefined;
        if (!h) return { ok: false, error: { code: 'UNSUPPORTED', message: `The channel '${channel}' has no handler in this host.` } };
        const value = await h(req as never, deps);
        try {
          return { ok: true, value: validateResponse(channel, value) };
        } catch (e) {
          // The engine broke the contract: our bug, not the caller's.
          return { ok: false, error: { code: 'INTERNAL', message: `The handler for '${channel}' answered outside the contract: ${(e as Error).message}` } };
        }
      } catch (e) {
        if (e instanceof ContractError) return { ok: false, error: { code: 'BAD_ARGUMENT', message: e.message } };
        return { ok: false, error: toErrorPayload(e) };
      }
    },
  };
}
