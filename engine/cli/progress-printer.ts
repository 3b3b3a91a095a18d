// Progress on stderr: one updating line on a terminal, a line per stage (and every 25%) otherwise.
import type { ProgressEvent, WorkContext } from '../util/work-context';

export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): WorkContext & { done(): void } {
  const tty = stream.isTTY === true;
  let lastStage = '';
  let lastQuarter = -1;
  let open = false;
  return {
    onProgress(e: ProgressEvent) {
      const pct = Math.round(e.fraction * 100);
      const line = `[${String(pct).padStart(3)}%] ${e.stage}${e.message ? `: ${e.message}` : ''}`;
      if (tty) { stream.write(`\r${line.padEnd(78).slice(0, 100)}`); open = true; return; }
      const quarter = Math.floor(e.fraction * 4);
      if (e.stage !== lastStage || quarter !== lastQuarter) stream.write(`${line}\n`);
      lastStage = e.stage; lastQuarter = quarter;
    },
    log(line: string) { if (open) { stream.write('\n'); open = false; } stream.write(`${line}\n`); },
    done() { if (open) stream.write('\n'); open = false; },
  };
}
