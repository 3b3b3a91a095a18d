export { createService, handlerModules, type Service } from './service';
export type { ServiceDeps, Handler, Handlers } from './types';
export { startStudioEngine, type StudioEngine, type StudioEngineOptions } from './engine-host';
