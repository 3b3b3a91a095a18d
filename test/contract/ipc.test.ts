// The contract validates every payload: wrong types, missing and unknown keys, oversize values, unknown
// channels and malformed answers are refused with messages that name the field and quote the value.
import { describe, it, expect } from 'vitest';
import { channels, events, validateRequest, validateResponse, validateResult, validateEvent, isChannel, ContractError, clientFromBridge, StudioClientError } from '../../contract/ipc';

const bad = (f: () => unknown) => {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(ContractError); return (e as Error).message; }
  throw new Error('expected a ContractError');
};

describe('contract: requests', () => {
  it('accepts well-formed requests and returns them typed', () => {
    expect(validateRequest('projects.create', { name: 'CNN' })).toEqual({ name: 'CNN' });
    expect(validateRequest('models.import', { projectId: 'p1', file: { kind: 'upload', uploadId: 'u1', name: 'm.onnx' } }).file.kind).toBe('upload');
    expect(validateRequest('pipelines.save', { projectId: 'p1', name: 'x', graph: { nodes: [{ id: 'a', data: { v: 1.5 } }] } }).graph).toEqual({ nodes: [{ id: 'a', data: { v: 1.5 } }] });
  });

  it('rejects wrong types, naming the field and quoting the value', () => {
    expect(bad(() => validateRequest('projects.create', { name: 5 }))).toBe("Expected a string for request.name but received '5'.");
    expect(bad(() => validateRequest('projects.create', {}))).toMatch(/request\.name/);
    expect(bad(() => validateRequest('projects.create', null))).toMatch(/an object for request/);
    expect(bad(() => validateRequest('projects.create', { name: '' }))).toMatch(/1\.\.200 characters/);
    expect(bad(() => validateRequest('projects.create', { name: 'x'.repeat(201) }))).toMatch(/request\.name/);
    expect(bad(() => validateRequest('runs.logs', { id: 'r1', after: 1.5 }))).toMatch(/an integer for request\.after/);
    expect(bad(() => validateRequest('runs.logs', { id: 'r1', after: Number.NaN }))).toMatch(/finite number/);
  });

  it('rejects unknown keys (typos), bad ids and bad tags', () => {
    expect(bad(() => validateRequest('projects.create', { name: 'a', nmae: 'b' }))).toMatch(/Unknown key request\.nmae \(allowed: name, description\)/);
    expect(bad(() => validateRequest('projects.get', { id: '../../etc/passwd' }))).toMatch(/matching/);
    expect(bad(() => validateRequest('models.import', { projectId: 'p', file: { kind: 'url', url: 'http://x' } }))).toMatch(/one of path, upload for request\.file\.kind/);
  });

  it('bounds free-form JSON (no functions, no NaN, no runaway nesting)', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expect(bad(() => validateRequest('pipelines.save', { projectId: 'p', name: 'x', graph: deep as object }))).toMatch(/nested at most/);
    expect(bad(() => validateRequest('pipelines.save', { projectId: 'p', name: 'x', graph: { f: Number.POSITIVE_INFINITY } }))).toMatch(/finite/);
    expect(bad(() => validateRequest('pipelines.save', { projectId: 'p', name: 'x', graph: { d: new Date() } as never }))).toMatch(/JSON value/);
  });

  it('unknown channels are refused', () => {
    expect(isChannel('projects.list')).toBe(true);
    expect(isChannel('toString')).toBe(false);
    expect(bad(() => validateRequest('shell.exec' as never, {}))).toMatch(/Unknown channel/);
  });

  it('every channel has a request and a response validator; every event a validator', () => {
    for (const [name, c] of Object.entries(channels)) {
      expect(typeof c.request, name).toBe('function');
      expect(typeof c.response, name).toBe('function');
    }
    expect(Object.keys(events)).toEqual(expect.arrayContaining(['run.progress', 'run.status', 'run.log']));
  });
});

describe('contract: answers and events', () => {
  it('validates result envelopes', () => {
    expect(validateResult('projects.delete', { ok: true, value: { deleted: true } })).toEqual({ ok: true, value: { deleted: true } });
    expect(validateResult('projects.delete', { ok: false, error: { code: 'NOT_FOUND', message: 'x' } })).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'x' } });
    expect(bad(() => validateResult('projects.delete', { ok: true, value: { deleted: 'yes' } }))).toMatch(/response\.deleted/);
    expect(bad(() => validateResult('projects.delete', { ok: 'maybe' }))).toMatch(/Malformed answer/);
    expect(bad(() => validateResponse('projects.list', [{ id: 'a' }]))).toMatch(/response\[0\]/);
  });

  it('validates push events', () => {
    expect(validateEvent('run.progress', { runId: 'r', stage: 's', fraction: 0.5 }).event).toBe('run.progress');
    expect(bad(() => validateEvent('run.progress', { runId: 'r', stage: 's', fraction: 2 }))).toMatch(/<= 1/);
    expect(bad(() => validateEvent('evil', {}))).toMatch(/Unknown event/);
  });

  it('clientFromBridge turns Result envelopes into values or errors that keep their code', async () => {
    const client = clientFromBridge({
      host: 'electron',
      invoke: async (channel) => (channel === 'projects.list' ? { ok: true, value: [] } : { ok: false, error: { code: 'NOT_FOUND', message: 'gone' } }),
      onEvent: () => () => undefined,
    });
    expect(await client.invoke('projects.list', {})).toEqual([]);
    const e = await client.invoke('projects.get', { id: 'x' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StudioClientError);
    expect((e as StudioClientError).code).toBe('NOT_FOUND');
  });
});
