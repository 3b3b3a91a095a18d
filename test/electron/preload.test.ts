// The preload with `electron` MOCKED (vi.mock; no Electron binary here): it exposes exactly one
// object, window.studio; requests that fail the contract never reach ipcRenderer; malformed answers
// and events from main are refused.
import { describe, it, expect, vi, beforeEach } from 'vitest';

const exposed: Record<string, any> = {};
const ipcRenderer = { invoke: vi.fn(), on: vi.fn(), removeListener: vi.fn() };
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (key: string, api: unknown) => { exposed[key] = api; } },
  ipcRenderer,
}));

await import('../../electron/preload/index');
const studio = exposed.studio;

beforeEach(() => { ipcRenderer.invoke.mockReset(); });

describe('preload: window.studio', () => {
  it('exposes only window.studio', () => {
    expect(Object.keys(exposed)).toEqual(['studio']);
    expect(studio.host).toBe('electron');
  });

  it('validates requests before sending and answers after receiving', async () => {
    expect(await studio.invoke('projects.create', { name: 5 })).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    expect(await studio.invoke('shell.exec', { cmd: 'rm -rf /' })).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENT' } });
    expect(ipcRenderer.invoke).not.toHaveBeenCalled();

    ipcRenderer.invoke.mockResolvedValueOnce({ ok: true, value: [] });
    expect(await studio.invoke('projects.list', {})).toEqual({ ok: true, value: [] });
    expect(ipcRenderer.invoke).toHaveBeenCalledWith('studio:invoke', { channel: 'projects.list', request: {} });

    ipcRenderer.invoke.mockResolvedValueOnce({ ok: true, value: [{ id: 1 }] });
    expect(await studio.invoke('projects.list', {})).toMatchObject({ ok: false, error: { code: 'BAD_RESPONSE' } });
  });

  it('passes on only valid events', () => {
    const got: unknown[] = [];
    const off = studio.onEvent((e: unknown) => got.push(e));
    const handler = ipcRenderer.on.mock.calls.at(-1)![1];
    handler({}, { event: 'run.progress', payload: { runId: 'r', stage: 'calibrate', fraction: 0.5 } });
    handler({}, { event: 'run.progress', payload: { runId: 'r', fraction: 'half' } });
    handler({}, { event: 'exec', payload: {} });
    handler({}, undefined);
    expect(got).toEqual([{ event: 'run.progress', payload: { runId: 'r', stage: 'calibrate', fraction: 0.5 } }]);
    off();
    expect(ipcRenderer.removeListener).toHaveBeenCalledWith('studio:event', handler);
  });
});
