// StudioClient over the browser host's WebSocket. The token comes from the page URL (?token=…), which
// the host printed; every message carries an id so answers can arrive out of order.
import {
  StudioClientError, validateEvent, validateRequest, validateResult,
  type Channel, type RequestOf, type ResponseOf, type StudioClient, type StudioEvent,
} from '../../../contract/ipc';

export function hostToken(): string {
  const t = new URLSearchParams(window.location.search).get('token');
  if (!t) throw new Error('This page was opened without its access token: open the URL the browser host printed (…/?token=…).');
  return t;
}

export async function connectWebSocketClient(): Promise<StudioClient> {
  const token = hostToken();
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`WebSocket to ${location.host} failed (wrong token or host stopped).`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { channel: Channel; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(e: StudioEvent) => void>();
  ws.addEventListener('message', (m) => {
    let msg: { id?: number; event?: string; payload?: unknown; result?: unknown };
    try { msg = JSON.parse(String(m.data)); } catch { return; }
    if (typeof msg.id === 'number') {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      try {
        const r = validateResult(p.channel, msg.result);
        if (r.ok) p.resolve(r.value);
        else p.reject(new StudioClientError(r.error));
      } catch (e) {
        p.reject(new StudioClientError({ code: 'BAD_RESPONSE', message: (e as Error).message }));
      }
    } else if (msg.event) {
      let ev: StudioEvent;
      try { ev = validateEvent(msg.event, msg.payload); } catch { return; }
      for (const l of listeners) l(ev);
    }
  });
  ws.addEventListener('close', () => {
    for (const p of pending.values()) p.reject(new StudioClientError({ code: 'DISCONNECTED', message: 'The browser host closed the connection.' }));
    pending.clear();
  });
  return {
    host: 'browser',
    invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
      try { validateRequest(channel, request); } catch (e) {
        return Promise.reject(new StudioClientError({ code: 'BAD_ARGUMENT', message: (e as Error).message }));
      }
      if (ws.readyState !== WebSocket.OPEN) return Promise.reject(new StudioClientError({ code: 'DISCONNECTED', message: 'Not connected to the browser host.' }));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { channel, resolve: resolve as (v: unknown) => void, reject });
        ws.send(JSON.stringify({ id, channel, request }));
      });
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
