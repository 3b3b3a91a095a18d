// The preload's window.studio, typed for the renderer without importing preload code
// (electron-vite template style). In the browser host window.studio is absent: the renderer then
// connects over WebSocket (renderer/src/api/client.ts).
import type { StudioClient } from '../../contract/ipc';

declare global {
  interface Window {
    studio?: StudioClient;
  }
}
export {};
