import cliProgress from 'cli-progress';
import type { TrainCallbacks } from '../train/sgd.js';

/**
 * A progress bar per epoch (batches, running loss, ETA) on stderr when it is a
 * terminal; nothing otherwise. Returns the callbacks to merge into training.
 */
export function epochProgress(enabled: boolean, epochs: number): TrainCallbacks & { stop(): void } {
  if (!enabled) return { stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `epoch {epoch}/${epochs} [{bar}] {value}/{total} batches | loss {loss} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 30,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let active = false;
  let last = 0;
  return {
    onEpochStart(epoch, batches) {
      bar.start(batches, 0, { epoch, loss: '-' });
      active = true;
    },
    onBatch(_epoch, batch, loss) {
      const now = Date.now();
      if (now - last < 50 && batch !== bar.getTotal()) return; // redraw at most 20 times a second
      last = now;
      bar.update(batch, { loss: loss.toFixed(4) });
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
