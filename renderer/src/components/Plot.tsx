// plotly.js through react-plotly.js's factory with the dist-min bundle (the full plotly.js is not a
// dependency). One shared component so every chart has the same look.
import createPlotlyComponent from 'react-plotly.js/factory';
import Plotly from 'plotly.js-dist-min';
import type { CSSProperties } from 'react';

const PlotlyComponent = createPlotlyComponent(Plotly);

export interface PlotProps {
  data: object[];
  layout?: Record<string, unknown>;
  style?: CSSProperties;
  testId?: string;
}

export function Plot({ data, layout, style, testId }: PlotProps) {
  return (
    <div data-testid={testId}>
      <PlotlyComponent
        data={data}
        layout={{ margin: { l: 56, r: 16, t: 28, b: 44 }, font: { family: 'system-ui, sans-serif', size: 12, color: '#1d2330' }, paper_bgcolor: '#fff', plot_bgcolor: '#fff', legend: { orientation: 'h', y: -0.2 }, ...layout }}
        config={{ displaylogo: false, responsive: true, modeBarButtonsToRemove: ['lasso2d', 'select2d'] }}
        style={{ width: '100%', height: 320, ...style }}
        useResizeHandler
      />
    </div>
  );
}
