// The renderer's one way to the engine: a StudioClient (contract/ipc.ts). In Electron it is the
// preload's window.studio; in the browser host it is a WebSocket client speaking the same contract.
import { clientFromBridge, type StudioClient } from '../../../contract/ipc';
import { connectWebSocketClient } from './ws-client';

export async function connectStudio(): Promise<StudioClient> {
  if (typeof window !== 'undefined' && window.studio) return clientFromBridge(window.studio);
  return connectWebSocketClient();
}
