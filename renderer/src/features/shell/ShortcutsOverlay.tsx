// "?" shows every keyboard shortcut; Escape or a click closes it. Also keeps Ctrl/Cmd+S from ever
// opening the browser's "Save page" dialog, on any view (the pipeline editor saves on it).
import { useEffect, useState } from 'react';

export const SHORTCUTS: [string, string][] = [
  ['?', 'Show this list'],
  ['Ctrl/⌘ + S', 'Save the pipeline now (it also saves by itself)'],
  ['Ctrl/⌘ + Z', 'Undo in the pipeline editor'],
  ['Ctrl/⌘ + Shift + Z, Ctrl/⌘ + Y', 'Redo'],
  ['Delete / Backspace', 'Remove the selected node or connection'],
  ['Escape', 'Close this list'],
];

const typing = (t: EventTarget | null) => t instanceof HTMLElement && (/^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName) || t.isContentEditable);

export function ShortcutsOverlay() {
  const [open, setOpen] = useState(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 's') { e.preventDefault(); return; }
      if (e.key === 'Escape') { setOpen(false); return; }
      if (e.key === '?' && !typing(e.target)) { e.preventDefault(); setOpen((o) => !o); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  if (!open) return null;
  return (
    <div className="qs-overlay" role="dialog" aria-label="Keyboard shortcuts" data-testid="shortcuts" onClick={() => setOpen(false)}>
      <div className="qs-overlay-box" onClick={(e) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        <table className="qs-table2"><tbody>{SHORTCUTS.map(([k, what]) => <tr key={k}><td><kbd>{k}</kbd></td><td>{what}</td></tr>)}</tbody></table>
        <button className="qs-btn-small" style={{ marginTop: 10 }} onClick={() => setOpen(false)}>Close</button>
      </div>
    </div>
  );
}
