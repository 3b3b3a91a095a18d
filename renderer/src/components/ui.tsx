// Small building blocks every studio view uses: empty states that say what to do, errors shown where
// they happen, a progress bar, and a button that asks before it deletes.
import { useState, type ReactNode } from 'react';
import '../styles/studio.css';

export function EmptyState({ title, children, testId }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="qs-emptystate" data-testid={testId}>
      <strong>{title}</strong>
      {children}
    </div>
  );
}

export function ErrorNote({ error, testId }: { error: string | { message: string } | null | undefined; testId?: string }) {
  if (!error) return null;
  return <div role="alert" className="qs-errnote" data-testid={testId}>{quotedOnce(typeof error === 'string' ? error : error.message)}</div>;
}

/** The engine quotes a name as '"name"' (JSON inside quotes, so odd characters stay visible); read, a
 *  name needs one pair: '"conv1"' -> 'conv1' when the JSON string has no escapes. */
export function quotedOnce(message: string): string {
  return message.replace(/'"((?:[^"\\'])*)"'/g, "'$1'");
}

export function ProgressBar({ fraction, testId }: { fraction: number; testId?: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  return (
    <div className="qs-progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} data-testid={testId}>
      <div style={{ width: `${pct}%` }} />
    </div>
  );
}

/** First click arms, second click within 4 s confirms: no modal, but no accidental delete. */
export function ConfirmButton({ label, confirmLabel, onConfirm, testId, className }: { label: string; confirmLabel: string; onConfirm: () => void; testId?: string; className?: string }) {
  const [armed, setArmed] = useState(false);
  return (
    <button
      data-testid={testId}
      className={armed ? 'qs-btn-danger' : (className ?? 'qs-btn-secondary')}
      onClick={() => {
        if (armed) { setArmed(false); onConfirm(); return; }
        setArmed(true);
        setTimeout(() => setArmed(false), 4000);
      }}
    >
      {armed ? confirmLabel : label}
    </button>
  );
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function fmtNum(v: number | undefined | null, digits = 3): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
  return String(+v.toFixed(digits));
}

export function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : typeof e === 'object' && e && 'message' in e ? String((e as { message: unknown }).message) : String(e);
}
