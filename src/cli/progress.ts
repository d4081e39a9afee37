import { createRequire } from 'node:module';
import type cliProgressModule from 'cli-progress';
import type { TrainCallbacks } from '../train/sgd.js';
import { clock, percent } from './output.js';

/** Where a run stands, as the progress bar shows it. */
export interface RunProgress {
  /** Examples trained on per second, in this process. */
  examplesPerSecond: number;
  /** Seconds until the last epoch ends (evaluations included, at the pace so far); Infinity before any batch. */
  eta: number;
}

/**
 * The pace of a run and the ETA of all of it, not only of this epoch: the
 * batches left in this and the later epochs, at the pace measured since this
 * process started (which includes the evaluations after each epoch).
 * `from` is where this process started (a resumed run starts mid-way).
 */
export function runProgress(p: { epochs: number; batches: number; epoch: number; batch: number; from: { epoch: number; batch: number }; examplesPerBatch: number; elapsed: number }): RunProgress {
  const done = (p.epoch - 1) * p.batches + p.batch;
  const here = done - ((p.from.epoch - 1) * p.batches + p.from.batch);
  const perSecond = p.elapsed > 0 ? here / p.elapsed : 0;
  const left = p.epochs * p.batches - done;
  return { examplesPerSecond: perSecond * p.examplesPerBatch, eta: left === 0 ? 0 : perSecond > 0 ? left / perSecond : Infinity };
}

/** 51234 → "51.2k". */
export function rate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0);
}

/**
 * A progress bar on stderr while training, when it can be redrawn (see
 * Output.interactive); nothing otherwise. One line: the epoch and its batches,
 * examples per second, the running loss and accuracy of the epoch, the time
 * elapsed and the ETA of the whole run. Returns the callbacks to merge into
 * training.
 */
export function epochProgress(enabled: boolean, epochs: number): TrainCallbacks & { stop(): void } {
  if (!enabled) return { stop() {} };
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule; // loaded only to draw
  const bar = new cliProgress.SingleBar(
    {
      format: `epoch {epoch}/${epochs} [{bar}] {value}/{total} · {speed} ex/s · loss {loss} · acc {acc} · {spent} elapsed, run ETA {left}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 16,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  let from: { epoch: number; batch: number } | undefined;
  let batches = 0;
  let active = false;
  let last = 0;
  // The pace and the ETA carry over from one epoch to the next; loss and accuracy are the epoch's own.
  let pace = { speed: '-', left: '-:--' };
  return {
    onEpochStart(epoch, n) {
      batches = n;
      bar.start(n, 0, { epoch, ...pace, loss: '-', acc: '-', spent: clock((performance.now() - t0) / 1000) });
      active = true;
    },
    onBatch(epoch, batch, loss, accuracy, seen) {
      from ??= { epoch, batch: batch - 1 };
      const now = performance.now();
      if (now - last < 100 && batch !== batches) return; // redraw at most 10 times a second
      last = now;
      const elapsed = (now - t0) / 1000;
      const p = runProgress({ epochs, batches, epoch, batch, from, examplesPerBatch: seen !== undefined ? seen / batch : 0, elapsed });
      pace = { speed: seen !== undefined ? rate(p.examplesPerSecond) : '-', left: clock(p.eta) };
      bar.update(batch, { ...pace, loss: loss.toFixed(4), acc: accuracy !== undefined ? percent(accuracy, 1) : '-', spent: clock(elapsed) });
    },
    onEpochEnd() {
      bar.stop();
      active = false;
    },
    stop() {
      if (active) bar.stop();
    },
  };
}
