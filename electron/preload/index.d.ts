// The preload's window.studio (a StudioBridge: Result envelopes; see contract/ipc.ts), typed for the renderer without importing preload code
// (electron-vite template style). In the browser host window.studio is absent: the renderer then
// connects over WebSocket (renderer/src/api/client.ts).
import type { StudioBridge } from '../../contract/ipc';

declare global {
  interface Window {
    studio?: StudioBridge;
  }
}
export {};
