// Whether React Flow has drawn and measured every node of the flow it sits in. React Flow keeps a node
// hidden until it is measured, so the views mark their canvas with it (data-ready) and hold back what
// needs the real node sizes (palette placement) until then; the e2e tests wait for it instead of a fixed time.
import { useEffect } from 'react';
import { useNodesInitialized } from '@xyflow/react';

/** Render inside <ReactFlow>: calls `onChange` with true once every node is measured, false while one is not. */
export function NodesDrawn({ onChange }: { onChange: (drawn: boolean) => void }) {
  const drawn = useNodesInitialized();
  useEffect(() => onChange(drawn), [drawn, onChange]);
  return null;
}
