import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { BoundedReadError, MODEL_FILE_LIMIT, readFileBounded } from '../base/read.js';
import { checkOutputFile, ioReason } from '../base/atomic.js';
import { augmentLabel } from '../data/augment.js';
import type { Dataset } from '../data/dataset.js';
import { decodeSafetensors, ModelFileError, saveModel } from '../io/safetensors.js';
import { provenanceMetadata, type Provenance } from '../io/provenance.js';
import type { Architecture, Network } from '../nn/network.js';
import { copyInitialWeights, initFromMismatch, type InitFrom } from '../train/init-from.js';
import { optimizerLabel } from '../train/optimizers.js';
import type { RunRecord } from '../train/settings.js';
import type { EpochMetrics } from '../train/sgd.js';
import type { WatchedMetric } from '../train/early-stop.js';
import { UsageError } from './errors.js';
import { style, type Output } from './output.js';

/**
 * The parts of `backprop train` for fine-tuning and for writing models as the
 * run goes (docs/guide/finetune.md): --init-from and --reinit-output,
 * --val-data, --save-every and --save-best.
 */

/** The flags this file reads. */
export interface FinetuneOptions {
  validation?: number;
  valData?: string;
  initFrom?: string;
  reinitOutput?: boolean;
  earlyStop?: number;
  saveBest?: boolean;
  saveEvery?: number;
  /** --schedule plateau watches the validation metric too. */
  schedule?: string;
  monitorMetric: WatchedMetric;
  save?: string;
}

/** The validation split --early-stop and --save-best take when neither --validation nor --val-data is given. */
export const HELD_OUT_VALIDATION = 0.1;

/** The --validation of a new run: as given, the held-out default when the best epoch is watched without validation data, or none. */
export function validationSplit(opts: FinetuneOptions): number | undefined {
  if (opts.valData !== undefined && opts.validation !== undefined)
    throw new UsageError(`--val-data ${opts.valData}: the validation set comes from there; drop --validation ${opts.validation} (or --val-data to split the training set)`);
  return opts.validation ?? (heldOut(opts) ? HELD_OUT_VALIDATION : undefined);
}

/** True when validation examples are held out of the training set only because --early-stop, --save-best or --schedule plateau needs them. */
export function heldOut(opts: FinetuneOptions): boolean {
  return (opts.earlyStop !== undefined || opts.saveBest === true || opts.schedule === 'plateau') && opts.validation === undefined && opts.valData === undefined;
}

/** The model --init-from names, checked against the run's architecture, with its record (file and SHA-256); undefined without --init-from. */
export function startingModel(opts: FinetuneOptions, arch: Architecture): { record: InitFrom; model: Network } | undefined {
  if (!opts.initFrom) {
    if (opts.reinitOutput) throw new UsageError('--reinit-output: it re-initialises the output layer of the model --init-from starts from; give --init-from MODEL.safetensors');
    return undefined;
  }
  const file = opts.initFrom;
  let bytes: Buffer;
  try {
    bytes = readFileBounded(file, MODEL_FILE_LIMIT);
  } catch (e) {
    throw new ModelFileError(`--init-from ${file}: cannot read (${e instanceof BoundedReadError ? e.reason : ioReason(e)})`);
  }
  const model = decodeSafetensors(bytes, `--init-from ${file}`).network;
  const mismatch = initFromMismatch(model.arch, arch, opts.reinitOutput === true);
  if (mismatch) throw new UsageError(`--init-from ${file}: ${mismatch}`);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return { record: { file, sha256, ...(opts.reinitOutput ? { reinitOutput: true } : {}) }, model };
}

/** The network a new run starts from: `net` as the seed drew it, with the --init-from model's weights copied in. */
export function applyStartingModel(start: ReturnType<typeof startingModel>, net: Network): void {
  if (start) copyInitialWeights(start.model, net, start.record.reinitOutput === true);
}

/** Where --save-every writes epoch e's model: --save's name with .eN before its extension (model.safetensors → model.e5.safetensors). */
export function everyName(save: string, epoch: number): string {
  const ext = extname(save);
  return join(dirname(save), `${basename(save, ext)}.e${epoch}${ext}`);
}

/**
 * Checks --save-every and --save-best before the run: both need --save, and
 * --save-every's files (those of the epochs still to run) must be new names:
 * it never replaces a file the user did not name (--save itself is replaced,
 * as without these flags).
 */
/** The models --save-every writes: [epoch, file] for every saveEvery-th epoch up to the last (none without --save and --save-every). */
export function epochSaves(record: Pick<RunRecord, 'save' | 'saveEvery' | 'epochs'>): [number, string][] {
  const { save, saveEvery } = record;
  if (!save || !saveEvery) return [];
  return Array.from({ length: Math.floor(record.epochs / saveEvery) }, (_, i) => [(i + 1) * saveEvery, everyName(save, (i + 1) * saveEvery)]);
}

export function claimEpochSaves(record: RunRecord, done: number): void {
  const { save, saveEvery, saveBest } = record;
  if (saveBest && !save) throw new UsageError("--save-best: give --save FILE, where the best epoch's model is written as the run goes");
  if (!saveEvery) return;
  if (!save) throw new UsageError(`--save-every ${saveEvery}: give --save FILE; the models are written beside it (FILE with .eN before its extension)`);
  for (const [e, path] of epochSaves(record)) {
    if (e <= done) continue;
    if (existsSync(path)) throw new UsageError(`--save-every ${saveEvery}: ${path} exists already (another run's?); move it away or give --save another name`);
    checkOutputFile(path, '--save-every');
  }
}

/** The metadata of a model train writes: the run's settings in brief, its result and its provenance (with the whole record, for --config). */
export function modelMetadata(run: RunRecord, ds: Pick<Dataset, 'name'>, prov: Provenance, epochs: number, testAccuracy: number | undefined, keptEpoch?: number): Record<string, string> {
  return {
    data: ds.name,
    init: run.init,
    ...(run.initFrom ? { init_from: run.initFrom.file, init_from_sha256: run.initFrom.sha256 } : {}),
    epochs: String(epochs),
    ...(keptEpoch !== undefined ? { best_epoch: String(keptEpoch) } : {}),
    lr: String(run.lr),
    batch_size: String(run.batchSize),
    weight_decay: String(run.weightDecay),
    ...(run.dropout ? { dropout: String(run.dropout) } : {}),
    ...(run.augment ? { augment: augmentLabel(run.augment) } : {}),
    optimizer: optimizerLabel(run.optimizer),
    seed: String(run.seed),
    ...(testAccuracy !== undefined ? { test_accuracy: String(testAccuracy) } : {}),
    ...provenanceMetadata(prov),
  };
}

/**
 * At each epoch end: --save-every's model every n epochs, and --save-best's
 * new best epoch to --save (atomic writes, so a kill leaves the last whole
 * file). A write that fails is warned about and the run goes on: the model
 * is written again at the end. Returns the files written, in order.
 */
export function epochSaver(run: RunRecord, ds: Pick<Dataset, 'name'>, net: Network, prov: Provenance, out: Output): { onEpochEnd: (m: EpochMetrics, best: boolean) => void; written: string[] } {
  const written: string[] = [];
  const write = (flag: string, path: string, m: EpochMetrics) => {
    try {
      saveModel(path, net, modelMetadata(run, ds, prov, m.epoch, m.testAccuracy, flag === '--save-best' ? m.epoch : undefined));
      if (!written.includes(path)) written.push(path);
    } catch (e) {
      out.line(style.warn(`⚠ ${flag}: cannot write ${path} (${ioReason(e)}); the run goes on`));
    }
  };
  return {
    written,
    onEpochEnd(m, best) {
      if (!run.save) return;
      if (run.saveEvery && m.epoch % run.saveEvery === 0) write('--save-every', everyName(run.save, m.epoch), m);
      if (run.saveBest && best) write('--save-best', run.save, m);
    },
  };
}
