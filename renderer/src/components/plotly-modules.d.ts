// Type faces for the two plotting packages (neither ships types for this combination).
declare module 'plotly.js-dist-min' {
  const Plotly: unknown;
  export default Plotly;
}
declare module 'react-plotly.js/factory' {
  import type { ComponentType, CSSProperties } from 'react';
  interface PlotParams {
    data: object[];
    layout?: object;
    config?: object;
    style?: CSSProperties;
    useResizeHandler?: boolean;
    className?: string;
  }
  export default function createPlotlyComponent(plotly: unknown): ComponentType<PlotParams>;
}
declare module '*.css';
