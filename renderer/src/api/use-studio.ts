// React access to the StudioClient and a small hook for channel calls.
import { createContext, useCallback, useContext, useEffect, useState } from 'react';
import type { Channel, RequestOf, ResponseOf, StudioClient, StudioEvent } from '../../../contract/ipc';

export const StudioContext = createContext<StudioClient | null>(null);

export function useStudio(): StudioClient {
  const s = useContext(StudioContext);
  if (!s) throw new Error('useStudio() outside <StudioContext.Provider>.');
  return s;
}

/** Call a channel on mount (and when `request` changes by value); `reload()` calls it again. */
export function useQuery<C extends Channel>(channel: C, request: RequestOf<C> | null) {
  const studio = useStudio();
  const key = JSON.stringify(request);
  const [state, setState] = useState<{ data?: ResponseOf<C>; error?: { code: string; message: string }; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (request === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    studio.invoke(channel, request).then(
      (data) => live && setState({ data, loading: false }),
      (e: { code?: string; message: string }) => live && setState({ error: { code: e.code ?? 'ERROR', message: e.message }, loading: false }),
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [studio, channel, key, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Subscribe to push events while mounted. */
export function useStudioEvents(listener: (e: StudioEvent) => void) {
  const studio = useStudio();
  useEffect(() => studio.onEvent(listener), [studio, listener]);
}
