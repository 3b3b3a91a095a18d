// The sidebar's "runs in progress" line, on every page: which runs are running (in any project),
// from the runs each project lists at start and the run.status / run.progress events after that.
import { useCallback, useEffect, useState } from 'react';
import type { Project, StudioEvent } from '../../../../contract/ipc';
import { useStudio, useStudioEvents } from '../../api/use-studio';

interface Running { projectId: string; fraction: number }

export function RunningIndicator({ projects }: { projects: Project[] | undefined }) {
  const studio = useStudio();
  const [running, setRunning] = useState<Record<string, Running>>({});
  const ids = (projects ?? []).map((p) => p.id).join(',');
  useEffect(() => {
    let live = true;
    void (async () => {
      const next: Record<string, Running> = {};
      for (const p of projects ?? []) {
        try {
          for (const r of await studio.invoke('runs.list', { projectId: p.id })) if (r.status === 'running' || r.status === 'queued') next[r.id] = { projectId: p.id, fraction: r.progress };
        } catch { /* a project deleted meanwhile */ }
      }
      if (live) setRunning(next);
    })();
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [studio, ids]);
  const onEvent = useCallback((e: StudioEvent) => {
    if (e.event === 'run.status') {
      const { runId, projectId, status } = e.payload;
      setRunning((r) => {
        const n = { ...r };
        if (status === 'running' || status === 'queued') n[runId] = { projectId, fraction: r[runId]?.fraction ?? 0 };
        else delete n[runId];
        return n;
      });
    } else if (e.event === 'run.progress') {
      const { runId, fraction } = e.payload;
      setRunning((r) => (r[runId] ? { ...r, [runId]: { ...r[runId]!, fraction } } : r));
    }
  }, []);
  useStudioEvents(onEvent);
  const list = Object.values(running);
  if (!list.length) return null;
  const first = list[0]!;
  const mean = list.reduce((a, r) => a + r.fraction, 0) / list.length;
  return (
    <a className="qs-running" data-testid="running-indicator" href={`#/p/${encodeURIComponent(first.projectId)}/runs`} title="Open the runs">
      <span className="qs-running-dot" aria-hidden />{list.length === 1 ? '1 run in progress' : `${list.length} runs in progress`} · {Math.round(mean * 100)} %
    </a>
  );
}
