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

/** What one redraw of the training bar shows. */
export interface BarFields {
  /** Which run of several (compare's activations: `sigmoid 1/2`), before the epoch; none for one run. */
  label?: string;
  epoch: number;
  epochs: number;
  /** Batches done in this epoch, of `total`. */
  value: number;
  total: number;
  /** Examples per second ("51.2k"), "-" before any. */
  speed: string;
  loss: string;
  acc: string;
  /** Time elapsed and the ETA of the whole run, as clock() writes them. */
  spent: string;
  left: string;
}

/** The bar itself: `size` cells, the done fraction in █, the rest in ░ (cli-progress's shades_classic). */
function cells(value: number, total: number, size: number): string {
  const done = total > 0 ? Math.min(size, Math.max(0, Math.round((value / total) * size))) : 0;
  return '\u2588'.repeat(done) + '\u2591'.repeat(size - done);
}

/**
 * The training bar's line, fitted to a terminal of `columns` columns: the
 * richest of these forms that fits in columns − 1 (the last column would
 * wrap on some terminals), dropping first the words, then the bar's width,
 * examples per second, accuracy, loss and the bar itself — the time elapsed
 * and the ETA of the run go last. Below the leanest form the line is cut.
 * Every character here is one column wide.
 */
export function progressLine(f: BarFields, columns: number): string {
  const epoch = `${f.label ? `${f.label} ` : ''}epoch ${f.epoch}/${f.epochs}`;
  const count = `${f.value}/${f.total}`;
  const head = (size: number): string => `${epoch} [${cells(f.value, f.total, size)}] ${count}`;
  const speed = `${f.speed} ex/s`,
    loss = `loss ${f.loss}`,
    acc = `acc ${f.acc}`,
    times = `${f.spent} · ETA ${f.left}`;
  const forms = [
    [head(16), speed, loss, acc, `${f.spent} elapsed, run ETA ${f.left}`],
    [head(16), speed, loss, acc, times],
    [head(8), speed, loss, acc, times],
    [head(8), loss, acc, times],
    [head(8), loss, times],
    [head(8), times],
    [`${epoch} ${count}`, times],
    [`${f.label ? `${f.label} ` : ''}${f.epoch}/${f.epochs} ${count}`, times],
    [`${f.epoch}/${f.epochs} ${count}`, times],
  ].map((parts) => parts.join(' · '));
  const room = Math.max(1, columns - 1);
  return forms.find((line) => line.length <= room) ?? forms[forms.length - 1].slice(0, room);
}

/**
 * A progress bar on stderr while training, when it can be redrawn (see
 * Output.interactive); nothing otherwise. One line (progressLine, fitted to
 * the terminal): the epoch and its batches, examples per second, the running
 * loss and accuracy of the epoch, the time elapsed and the ETA of the whole
 * run. Returns the callbacks to merge into training.
 */
export function epochProgress(enabled: boolean, epochs: number): TrainCallbacks & { stop(): void } {
  const bar = runsProgress(enabled, epochs, ['']);
  return { ...bar.run(0), stop: bar.stop };
}

/**
 * The same bar over several runs of `epochs` epochs each, one after the other
 * (compare trains one network per activation): `run(i)` gives the callbacks of
 * run i, whose name is shown before its epoch, and the ETA is of all of them.
 */
export function runsProgress(enabled: boolean, epochs: number, names: string[]): { run(i: number): TrainCallbacks; stop(): void } {
  if (!enabled) return { run: () => ({}), stop() {} };
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof cliProgressModule; // loaded only to draw
  const bar = new cliProgress.SingleBar(
    {
      // Drawn by progressLine, fitted to the terminal's width as it is at each redraw (80 columns if unknown).
      format: (_options, params, payload: Omit<BarFields, 'value' | 'total' | 'epochs'>) =>
        progressLine({ ...payload, epochs, value: params.value, total: params.total }, process.stderr.columns || 80),
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = performance.now();
  let from: { epoch: number; batch: number } | undefined;
  let batches = 0;
  let active = false;
  let last = 0;
  // The pace and the ETA carry over from one epoch (and run) to the next; loss and accuracy are the epoch's own.
  let pace = { speed: '-', left: '-:--' };
  const label = (i: number) => (names.length > 1 ? `${names[i]} ${i + 1}/${names.length}` : undefined);
  return {
    run(i) {
      // Epoch e of run i is epoch i·epochs + e of all the runs, for the ETA.
      return {
        onEpochStart(epoch, n) {
          batches = n;
          bar.start(n, 0, { label: label(i), epoch, ...pace, loss: '-', acc: '-', spent: clock((performance.now() - t0) / 1000) });
          active = true;
        },
        onBatch(epoch, batch, loss, accuracy, seen) {
          const all = i * epochs + epoch;
          from ??= { epoch: all, batch: batch - 1 };
          const now = performance.now();
          if (now - last < 100 && batch !== batches) return; // redraw at most 10 times a second
          last = now;
          const elapsed = (now - t0) / 1000;
          const p = runProgress({ epochs: names.length * epochs, batches, epoch: all, batch, from, examplesPerBatch: seen !== undefined ? seen / batch : 0, elapsed });
          pace = { speed: seen !== undefined ? rate(p.examplesPerSecond) : '-', left: clock(p.eta) };
          bar.update(batch, { label: label(i), epoch, ...pace, loss: loss.toFixed(4), acc: accuracy !== undefined ? percent(accuracy, 1) : '-', spent: clock(elapsed) });
        },
        onEpochEnd() {
          bar.stop();
          active = false;
        },
      };
    },
    stop() {
      if (active) bar.stop();
    },
  };
}
