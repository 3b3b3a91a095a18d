// One pipeline node on the canvas: its stage colour, title, the parameters that matter, and the
// validator's message for this node (errors live on the node that causes them).
import { Handle, Position, type NodeProps, type Node } from '@xyflow/react';
import { nodeType, type Params } from './node-types';

export type PipelineFlowNode = Node<{ type: string; params: Params; problems: string[] }, 'qs'>;

export function PipelineNodeView({ data, selected }: NodeProps<PipelineFlowNode>) {
  const t = nodeType(data.type);
  const shown = (t?.parameters ?? []).filter((p) => !p.visible || p.visible(data.params)).slice(0, 4);
  const cls = ['qs-pnode', data.problems.length ? 'invalid' : '', selected ? 'selected' : ''].join(' ');
  return (
    <div className={cls} data-testid={`pnode-${data.type}`} data-invalid={data.problems.length > 0}>
      {!t?.source && <Handle type="target" position={Position.Top} />}
      <header className={`qs-stage-${t?.stage ?? 'source'}`}>{t?.title ?? data.type}</header>
      <div className="body">
        {shown.length === 0 && <span>{t?.description}</span>}
        {shown.map((p) => (
          <div key={p.key}><span>{p.label}</span><strong>{String(data.params[p.key] ?? p.default) || '—'}</strong></div>
        ))}
      </div>
      {/* At most three lines (the full text is the tooltip and in the inspector): a long message must not run under the next node. */}
      {data.problems.length > 0 && <div className="problem" role="alert" data-testid="node-problem" title={data.problems.join('\n')}>{data.problems[0]}{data.problems.length > 1 ? ` (+${data.problems.length - 1} more)` : ''}</div>}
      {!t?.sink && <Handle type="source" position={Position.Bottom} />}
    </div>
  );
}
