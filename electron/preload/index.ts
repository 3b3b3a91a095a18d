// The sandboxed preload: exposes exactly one object, window.studio, whose calls are validated against
// the contract before they leave the renderer and whose answers and events are validated on arrival.
// Built as CommonJS (sandboxed preloads cannot be ES modules); imports only electron and the contract.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  IPC_EVENT, IPC_INVOKE, validateEvent, validateRequest, validateResult,
  type Channel, type Result, type StudioBridge, type StudioEvent,
} from '../../contract/ipc';

export const studioBridge: StudioBridge = {
  host: 'electron',
  async invoke(channel: Channel, request: unknown): Promise<Result<unknown>> {
    try {
      validateRequest(channel, request);
    } catch (e) {
      return { ok: false, error: { code: 'BAD_ARGUMENT', message: (e as Error).message } };
    }
    const raw: unknown = await ipcRenderer.invoke(IPC_INVOKE, { channel, request });
    try {
      return validateResult(channel, raw);
    } catch (e) {
      return { ok: false, error: { code: 'BAD_RESPONSE', message: (e as Error).message } };
    }
  },
  onEvent(listener: (e: StudioEvent) => void): () => void {
    const handler = (_e: IpcRendererEvent, msg: { event?: unknown; payload?: unknown } | undefined) => {
      let ev: StudioEvent;
      try { ev = validateEvent(msg?.event, msg?.payload); } catch { return; }
      listener(ev);
    };
    ipcRenderer.on(IPC_EVENT, handler);
    return () => { ipcRenderer.removeListener(IPC_EVENT, handler); };
  },
};

contextBridge.exposeInMainWorld('studio', studioBridge);
