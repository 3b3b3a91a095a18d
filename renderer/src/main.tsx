import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { connectStudio } from './api/client';

const root = createRoot(document.getElementById('root')!);

connectStudio().then(
  (studio) => root.render(<StrictMode><App studio={studio} /></StrictMode>),
  (e: Error) => root.render(<div role="alert" style={{ padding: 24, fontFamily: 'sans-serif' }}>Cannot reach the studio engine: {e.message}</div>),
);
