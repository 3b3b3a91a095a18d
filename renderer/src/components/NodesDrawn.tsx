// Whether React Flow has drawn and measured every node of the flow it sits in. React Flow keeps a node
// hidden until it is measured, so the views mark their canvas with it (data-ready) and hold back what
// needs the real node sizes (palette placement) until then; the e2e tests wait for it instead of a fixed time.
import { useEffect } from 'react';
import { useNodesInitialized, useStore, useUpdateNodeInternals, type ReactFlowState } from '@xyflow/react';

// Nodes that have a size but no handle positions. An edge is drawn only between measured handles, and
// React Flow measures them from its ResizeObserver: when a controlled re-render drops them (a render
// with node objects lacking `measured` resets them) and the size did not change, nothing measures them
// again and the node's edges stay undrawn (seen in the pipeline editor, about 1 load in 15 under CPU load).
const handlesUnmeasured = (s: ReactFlowState): string => {
  const ids: string[] = [];
  for (const [id, n] of s.nodeLookup) if (!n.hidden && n.measured.width && n.measured.height && n.internals.handleBounds === undefined) ids.push(id);
  return ids.join('\n');
};

/** Render inside <ReactFlow>: calls `onChange` with true once every node and its handles are measured, false while one is not. */
export function NodesDrawn({ onChange }: { onChange: (drawn: boolean) => void }) {
  // includeHiddenNodes: also require every node's handle positions, not only its size (see above).
  const drawn = useNodesInitialized({ includeHiddenNodes: true });
  const unmeasured = useStore(handlesUnmeasured);
  const updateNodeInternals = useUpdateNodeInternals();
  useEffect(() => {
    if (!unmeasured) return;
    // Measure them now (React Flow reads the node's DOM in the next frame).
    updateNodeInternals(unmeasured.split('\n'));
  }, [unmeasured, updateNodeInternals]);
  useEffect(() => onChange(drawn), [drawn, onChange]);
  return null;
}
