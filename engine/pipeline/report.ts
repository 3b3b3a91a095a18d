// The run report's types live in contract/report.ts (the renderer reads the report over IPC); this
// re-export serves the orchestrator's own modules until they import the contract directly.
export type { QuantizeReport, QuantizedNodeInfo, LayerError, ActivationRange } from '../../contract/report';
