// Main-process IPC: one invoke channel for every contract call. Each call is accepted only from our
// own top-level frame (its URL must be the app's renderer), then the service validates the payload
// against the contract and answers with the Result envelope. Nothing here touches files directly.
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { IPC_EVENT, IPC_INVOKE, type EventName, type Result } from '../../contract/ipc';
import type { Service } from '../../engine/api/service';

export interface TrustedRenderer {
  /** file:// URL of out/renderer/index.html (production). */
  fileUrl: string;
  /** electron-vite dev server URL (ELECTRON_RENDERER_URL), when running `electron-vite dev`. */
  devUrl?: string;
}

/** Is this frame URL our renderer? (file URL exactly, ignoring the hash; or the dev server's origin) */
export function isTrustedUrl(url: string | undefined, trusted: TrustedRenderer): boolean {
  if (!url) return false;
  let u: URL;
  try { u = new URL(url); } catch { return false; }
  if (u.protocol === 'file:') {
    const t = new URL(trusted.fileUrl);
    return u.pathname === t.pathname && u.host === t.host;
  }
  if (trusted.devUrl) {
    const d = new URL(trusted.devUrl);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === d.origin && (d.hostname === 'localhost' || d.hostname === '127.0.0.1');
  }
  return false;
}

export function checkSender(event: Pick<IpcMainInvokeEvent, 'senderFrame'>, trusted: TrustedRenderer): Result<never> | null {
  const frame = event.senderFrame;
  if (!frame || frame.parent !== null || !isTrustedUrl(frame.url, trusted)) {
    return { ok: false, error: { code: 'FORBIDDEN', message: `IPC from an untrusted frame ${JSON.stringify(frame?.url ?? null).slice(0, 200)} was refused.` } };
  }
  return null;
}

export function registerIpc(ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>, service: Service, trusted: TrustedRenderer): () => void {
  ipcMain.handle(IPC_INVOKE, async (event, msg: unknown) => {
    const refused = checkSender(event, trusted);
    if (refused) return refused;
    if (typeof msg !== 'object' || msg === null) return { ok: false, error: { code: 'BAD_ARGUMENT', message: 'An IPC call must be an object { channel, request }.' } };
    const { channel, request } = msg as { channel?: unknown; request?: unknown };
    return service.dispatch(channel, request);
  });
  return () => ipcMain.removeHandler(IPC_INVOKE);
}

/** Forward a push event to a window, if it still exists. */
export function sendEvent(contents: WebContents | undefined, event: EventName, payload: unknown): void {
  if (contents && !contents.isDestroyed()) contents.send(IPC_EVENT, { event, payload });
}
