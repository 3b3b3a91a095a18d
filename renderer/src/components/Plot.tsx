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
  // Title on the left, legend on the right above the plot, the toolbar only on hover: none of them
  // lands on another (a legend under the x axis covered long, angled layer names).
  const title = layout?.title as { text?: string } | undefined;
  // Dark mode follows the system, as the rest of the studio does (read when the plot renders).
  const dark = typeof window !== 'undefined' && window.matchMedia?.('(prefers-color-scheme: dark)').matches;
  const ink = dark ? '#e5e7eb' : '#1d2330', paper = dark ? '#161d27' : '#fff', grid = dark ? '#2a3443' : '#e5e7eb';
  const titled = Boolean(title?.text);
  return (
    <div data-testid={testId}>
      <PlotlyComponent
        data={data}
        layout={{
          margin: { l: 56, r: 16, t: titled ? 56 : 32, b: 44 }, font: { family: 'system-ui, sans-serif', size: 12, color: ink }, paper_bgcolor: paper, plot_bgcolor: paper,
          legend: { orientation: 'h', x: 1, xanchor: 'right', y: 1.01, yanchor: 'bottom', bgcolor: 'rgba(255,255,255,0)' },
          ...layout,
          xaxis: { gridcolor: grid, zerolinecolor: grid, ...(layout?.xaxis as object | undefined) },
          yaxis: { gridcolor: grid, zerolinecolor: grid, ...(layout?.yaxis as object | undefined) },
          ...(titled ? { title: { x: 0, xanchor: 'left', y: 0.98, yanchor: 'top', font: { size: 13 }, ...title } } : {}),
        }}
        config={{ displaylogo: false, responsive: true, displayModeBar: 'hover', modeBarButtonsToRemove: ['lasso2d', 'select2d'] }}
        style={{ width: '100%', height: 320, ...style }}
        useResizeHandler
      />
    </div>
  );
}
