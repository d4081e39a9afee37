import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BoundedReadError, CONFIG_FILE_LIMIT, MODEL_FILE_LIMIT, readFileBounded } from '../base/read.js';
import type { Network } from '../nn/network.js';
import type { TrainState } from '../train/session.js';
import { recordMismatch, runRecordProblem, type RunRecord } from '../train/settings.js';
import { slotCount, type OptimizerName, type OptimizerState } from '../train/optimizers.js';
import { cleanStaleTemporaries, OutputPathError, processAlive, writeFileAtomic } from '../base/atomic.js';

/** The checkpoint's own file names: a link planted at one is replaced, never followed (writeFileAtomic's replaceLink). */
const OURS = { replaceLink: true };
import { decodeSafetensors, encodeSafetensors, ModelFileError } from './safetensors.js';
import type { Provenance } from './provenance.js';
import { safeText } from '../base/terminal-safe.js';

/**
 * What computed a checkpoint's weights: the kernel provider, its own
 * description and its thread policy (src/linalg/threads.ts), as provenance
 * words them. A resumed run on another provider, or on OpenBLAS with another
 * policy (another core count, another BACKPROP_PARALLEL_WORK), continues
 * with other rounding: its model need not be byte-identical to an uninterrupted
 * run's (resumeNotice says so).
 */
export interface CheckpointKernels {
  provider: string;
  providerDetail?: string;
  /** The thread policy in words, e.g. "1 thread below 2^24 multiply-adds (m·n·k), 2 from there"; absent where the provider chooses its own threads. */
  threads?: string;
}

/** The provider and thread policy of a run's provenance, as a checkpoint records them. */
export function checkpointKernels(p: Provenance): CheckpointKernels {
  return { provider: p.provider, providerDetail: p.providerDetail, threads: p.threads };
}

/**
 * Providers whose bytes depend on their thread count: OpenBLAS splits a
 * product's sums by thread. The wasm kernel sums each element of C on one
 * thread in one order, so its policy does not change a bit.
 */
const THREAD_DEPENDENT = new Set(['blas']);

/**
 * The one-line notice of a resume whose kernels differ from the checkpoint's
 * in a way that changes the rounding: another provider, or the same
 * thread-dependent provider under another thread policy. Undefined when the
 * result will be byte-identical to an uninterrupted run, or when the
 * checkpoint predates the record (nothing to compare). The recorded words
 * come from a file: shown through safeText.
 */
export function resumeNotice(recorded: CheckpointKernels | undefined, now: CheckpointKernels): string | undefined {
  if (!recorded) return undefined;
  const policy = (k: CheckpointKernels) => safeText(k.threads ?? 'its own threads', 120);
  const tail = "the result is not guaranteed to be byte-identical to an uninterrupted run's";
  if (recorded.provider !== now.provider) return `the checkpoint was computed on ${safeText(recorded.provider, 40)} (${policy(recorded)}), this run on ${now.provider} (${policy(now)}): ${tail}`;
  if (THREAD_DEPENDENT.has(now.provider) && (recorded.threads ?? '') !== (now.threads ?? ''))
    return `the thread policy differs from the checkpoint's: ${now.provider} ran with "${policy(recorded)}", now "${policy(now)}" (its sums depend on the thread count): ${tail}`;
  return undefined;
}

/** What a checkpoint holds besides the weights: the run's options and its position. */
export interface CheckpointFile<O> {
  format: 'backprop-checkpoint';
  version: 1;
  /** Increases with every write; names the model and order files of this state. */
  generation: number;
  model: string;
  order: string;
  /** The RNG state (xoshiro128**) as four uint32. */
  rng: number[];
  /** The optimizer's step count and the file of its slots (velocity, moments); absent for plain SGD. */
  optimizer?: { t: number; file: string };
  /** The provider and thread policy that computed the weights; absent in checkpoints written before it was recorded. */
  kernels?: CheckpointKernels;
  options: O;
  state: Omit<TrainState, 'order'>;
}

/**
 * Writes a checkpoint into dir. The weights and the example order go to files
 * named by a new generation, each written atomically; state.json, written
 * last (atomically), is what makes them current; older generations are then
 * removed. A crash at any point leaves the previous checkpoint intact.
 */
export function writeCheckpoint<O>(dir: string, net: Network, rng: Uint32Array, state: TrainState, options: O, optimizer?: OptimizerState, kernels?: CheckpointKernels): void {
  if (!existsSync(dir)) mkdirSync(dir);
  let generation = 1;
  try {
    const g = (JSON.parse(readFileBounded(join(dir, 'state.json'), CONFIG_FILE_LIMIT).toString('utf8')) as { generation: number }).generation;
    if (Number.isSafeInteger(g) && g > 0) generation = g + 1;
  } catch {
    // first checkpoint in this directory
  }
  const model = `model-${generation}.safetensors`;
  const order = `order-${generation}.bin`;
  writeFileAtomic(join(dir, model), encodeSafetensors(net), OURS);
  const o = Buffer.alloc(state.order.length * 4);
  state.order.forEach((v, i) => o.writeUInt32LE(v, 4 * i));
  writeFileAtomic(join(dir, order), o, OURS);
  let opt: CheckpointFile<O>['optimizer'];
  if (optimizer && optimizer.slots.length) {
    // The slots as they are in memory (float32 or float64, little-endian), slot after slot, W¹ b¹ W² b² … in each: bit-exact.
    opt = { t: optimizer.t, file: `optimizer-${generation}.bin` };
    writeFileAtomic(join(dir, opt.file), Buffer.concat(optimizer.slots.flat().map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength))), OURS);
  }
  const { order: _order, ...rest } = state;
  const file: CheckpointFile<O> = { format: 'backprop-checkpoint', version: 1, generation, model, order, rng: Array.from(rng), optimizer: opt, kernels, options, state: rest };
  writeFileAtomic(join(dir, 'state.json'), JSON.stringify(file, null, 1), OURS);
  for (const f of readdirSync(dir)) {
    if (/^(model|order|optimizer)-\d+\./.test(f) && f !== model && f !== order && f !== opt?.file) rmSync(join(dir, f), { force: true });
  }
}

/**
 * Writes the checkpoint into a new directory under the temporary directory
 * (for when its own directory cannot be written) and returns it, or
 * undefined when that fails too.
 */
export function writeRescueCheckpoint<O>(net: Network, rng: Uint32Array, state: TrainState, options: O, optimizer?: OptimizerState, kernels?: CheckpointKernels): string | undefined {
  for (const base of [tmpdir(), process.cwd()]) {
    try {
      const dir = mkdtempSync(join(base, 'backprop-rescued-checkpoint-'));
      writeCheckpoint(dir, net, rng, state, options, optimizer, kernels);
      return dir;
    } catch {
      // the next place
    }
  }
  return undefined;
}

/** The weights of the best epoch so far (--early-stop), beside the checkpoint. */
export const BEST_MODEL = 'best.safetensors';

/** True when dir holds a checkpoint (its state.json). */
export function hasCheckpoint(dir: string): boolean {
  return existsSync(join(dir, 'state.json'));
}

/** Removes a checkpoint's files (state.json first, so that it stops being one at once). */
export function removeCheckpoint(dir: string): void {
  rmSync(join(dir, 'state.json'), { force: true });
  rmSync(join(dir, BEST_MODEL), { force: true });
  for (const f of readdirSync(dir)) if (/^(model|order|optimizer)-\d+\./.test(f)) rmSync(join(dir, f), { force: true });
}

/**
 * Which process holds a pid, beyond the number the system reuses: the boot
 * (Linux's boot_id) and the process's start time in clock ticks since boot
 * (field 22 of /proc/PID/stat). '' where /proc does not tell (not Linux, the
 * process gone).
 */
export function processIdentity(pid: number): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, field 2, is in parentheses and may hold spaces: count the fields after its last ')', from field 3.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
    return start ? `${boot} ${start}` : '';
  } catch {
    return '';
  }
}

/**
 * Takes dir/lock for this process: one run writes a checkpoint directory at a
 * time. The lock file, created with O_EXCL, holds the owner's pid, host and
 * identity (processIdentity); a lock whose process no longer runs on this
 * host (a crashed or killed run), or whose pid now names another process
 * (reused after the crash, or after a reboot), is stale and taken over. Returns the function that releases it, which also
 * runs when the process exits.
 */
export function lockCheckpoint(dir: string, flag: string): () => void {
  const path = join(dir, 'lock');
  const me = `${process.pid}\n${hostname()}\n${processIdentity(process.pid)}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, me);
      closeSync(fd);
      const release = () => {
        process.off('exit', release);
        try {
          if (readFileSync(path, 'utf8') === me) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
      process.on('exit', release);
      // Temporary files of writes a crashed run never finished: ours to remove now that we hold the lock.
      cleanStaleTemporaries(dir, Date.now(), 0); // (atomic.ts's own pattern: a user's .notes.1.tmp is not ours)
      return release;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw new OutputPathError(`${flag} ${dir}: cannot create its lock file (${code ?? String(e)})`);
    }
    let owner = '';
    try {
      owner = readFileSync(path, 'utf8');
    } catch {
      continue; // released meanwhile
    }
    const [pidText, host, identity] = owner.split('\n');
    const pid = Number(pidText);
    // Not a lock a run wrote (empty, or another file saved there): no pid to show or to test, and nothing to take over.
    if (!/^[1-9]\d*$/.test(pidText) || !Number.isSafeInteger(pid))
      throw new OutputPathError(`${flag} ${dir}: its lock file ${path} was not written by a run (it names no process); delete it if no run uses the directory`);
    const alive = pid !== process.pid && processAlive(pid);
    // A lock written before identities were (two lines) is judged by its pid alone.
    const stale = host === hostname() && (!alive || (Boolean(identity) && processIdentity(pid) !== identity));
    if (!stale) {
      throw new OutputPathError(
        `${flag} ${dir}: in use by another run (pid ${pidText}${host && host !== hostname() ? ` on ${host}` : ''}); wait for it to finish, choose another directory, or delete ${path} if that run is gone`,
      );
    }
    // Left by a run that crashed: move it aside (only one taker's rename succeeds), then try again.
    try {
      renameSync(path, `${path}.stale-${process.pid}`);
      rmSync(`${path}.stale-${process.pid}`, { force: true });
    } catch {
      // another run took it first
    }
  }
  throw new OutputPathError(`${flag} ${dir}: could not take its lock file ${path}`);
}

export interface Checkpoint<O> {
  network: Network;
  rng: Uint32Array;
  state: TrainState;
  /** The optimizer's state, for a run whose optimizer keeps one. */
  optimizer?: OptimizerState;
  /** What computed the weights (absent in a checkpoint written before it was recorded). */
  kernels?: CheckpointKernels;
  options: O;
}

const isInt = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
const isNum = (v: unknown, min: number): v is number => typeof v === 'number' && Number.isFinite(v) && v >= min;

const fraction = (v: unknown) => isNum(v, 0) && v <= 1;
const finite = (v: unknown) => isNum(v, 0);
/** The fields of an epoch's metrics (EpochMetrics): name, check, optional. */
const EPOCH_FIELDS: [string, (v: unknown) => boolean, boolean][] = [
  ['loss', finite, false],
  ['trainAccuracy', fraction, false],
  ['seconds', finite, false],
  ['lr', finite, true],
  ['testLoss', finite, true],
  ['testAccuracy', fraction, true],
  ['validationLoss', finite, true],
  ['validationAccuracy', fraction, true],
  ['clipped', finite, true],
];

function stateProblem(s: unknown): string | undefined {
  if (!s || typeof s !== 'object') return 'state is not an object';
  const t = s as Record<string, unknown>;
  if (!isInt(t.epoch, 1)) return `state.epoch ${JSON.stringify(t.epoch)} must be a positive integer`;
  if (!isInt(t.batch, 0)) return `state.batch ${JSON.stringify(t.batch)} must be an integer ≥ 0`;
  for (const k of ['correct', 'seen'] as const) if (!isInt(t[k], 0)) return `state.${k} ${JSON.stringify(t[k])} must be an integer ≥ 0`;
  for (const k of ['totalLoss', 'seconds'] as const) if (!isNum(t[k], 0)) return `state.${k} ${JSON.stringify(t[k])} must be a finite number ≥ 0`;
  if ((t.correct as number) > (t.seen as number)) return 'state.correct is larger than state.seen';
  if (!Array.isArray(t.history)) return 'state.history must be a list';
  if (t.history.length !== (t.epoch as number) - 1) return `state.history has ${t.history.length} epochs but state.epoch is ${t.epoch}`;
  for (const [i, m] of (t.history as unknown[]).entries()) {
    const h = m as Record<string, unknown> | null;
    if (!h || typeof h !== 'object' || h.epoch !== i + 1) return `state.history[${i}] is not the record of epoch ${i + 1}`;
    // Every field the output prints or early stopping compares: finite numbers, accuracies in [0, 1].
    for (const [k, isOk, optional] of EPOCH_FIELDS) {
      if (h[k] === undefined ? !optional : !isOk(h[k]))
        return `state.history[${i}].${k} ${JSON.stringify(h[k]) ?? 'undefined'} is not ${optional ? 'absent or ' : ''}${k.endsWith('ccuracy') ? 'a fraction in [0, 1]' : 'a finite number ≥ 0'}`;
    }
  }
  return undefined;
}

/** Reads a checkpoint written by writeCheckpoint; every inconsistency is a ModelFileError. */
export function readCheckpoint<O>(dir: string): Checkpoint<O> {
  const path = join(dir, 'state.json');
  if (!existsSync(path)) throw new ModelFileError(`--resume ${dir}: no checkpoint there (state.json is missing)`);
  let file: CheckpointFile<O>;
  let text: string;
  try {
    text = readFileBounded(path, CONFIG_FILE_LIMIT).toString('utf8'); // bounded and non-blocking: a FIFO or a device put there cannot hang the resume
  } catch (e) {
    throw new ModelFileError(`${path}: cannot read (${e instanceof BoundedReadError ? e.reason : String(e)})`);
  }
  try {
    file = JSON.parse(text) as CheckpointFile<O>;
  } catch {
    throw new ModelFileError(`${path}: not valid JSON`);
  }
  const fail = (msg: string): never => {
    throw new ModelFileError(`${path}: ${msg}`);
  };
  if (!file || typeof file !== 'object' || file.format !== 'backprop-checkpoint' || file.version !== 1) fail('not a backprop checkpoint (version 1)');
  if (!isInt(file.generation, 1)) fail(`generation ${JSON.stringify(file.generation)} must be a positive integer`);
  if (typeof file.model !== 'string' || !/^model-\d+\.safetensors$/.test(file.model)) fail(`model ${JSON.stringify(file.model)} must name a model-N.safetensors file of the checkpoint`);
  if (typeof file.order !== 'string' || !/^order-\d+\.bin$/.test(file.order)) fail(`order ${JSON.stringify(file.order)} must name an order-N.bin file of the checkpoint`);
  if (!Array.isArray(file.rng) || file.rng.length !== 4 || !file.rng.every((v) => isInt(v, 0) && v <= 0xffffffff) || file.rng.every((v) => v === 0)) {
    fail('the RNG state must be 4 uint32, not all 0');
  }
  const problem = runRecordProblem(file.options) ?? stateProblem(file.state) ?? kernelsProblem(file.kernels);
  if (problem) fail(problem);
  const network = decodeSafetensors(readFileOr(join(dir, file.model)), join(dir, file.model)).network;
  const mismatch = recordMismatch(file.options as RunRecord, network); // the run would train one network and record another
  if (mismatch) fail(`${mismatch} (${file.model})`);
  const ob = readFileOr(join(dir, file.order));
  const orderPath = join(dir, file.order);
  if (ob.length % 4) throw new ModelFileError(`${orderPath}: ${ob.length} bytes is not a list of uint32`);
  const order = new Uint32Array(ob.length / 4);
  const seen = new Uint8Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const v = ob.readUInt32LE(4 * i);
    if (v >= order.length || seen[v]) throw new ModelFileError(`${orderPath}: not a permutation of 0..${order.length - 1} (entry ${i} is ${v})`);
    seen[v] = 1;
    order[i] = v;
  }
  const st = file.state as Omit<TrainState, 'order'>;
  const batchSize = (file.options as { batchSize: number }).batchSize;
  if (st.batch * batchSize >= order.length && st.batch > 0) fail(`state.batch ${st.batch} is past the end of an epoch of ${order.length} examples in batches of ${batchSize}`);
  const optimizerName = (file.options as { optimizer?: { name: OptimizerName } }).optimizer?.name ?? 'sgd';
  return {
    network,
    rng: Uint32Array.from(file.rng),
    state: { ...st, order },
    optimizer: readOptimizer(dir, file, network, slotCount(optimizerName)),
    kernels: file.kernels,
    options: file.options,
  };
}

/** kernels, when present: strings (what provenance wrote), bounded. */
function kernelsProblem(k: unknown): string | undefined {
  if (k === undefined) return undefined;
  const t = k as Record<string, unknown> | null;
  const text = (v: unknown, optional: boolean) => (v === undefined ? optional : typeof v === 'string' && v.length <= 1000);
  if (!t || typeof t !== 'object' || !text(t.provider, false) || !text(t.providerDetail, true) || !text(t.threads, true))
    return 'kernels must give the provider and, optionally, its providerDetail and threads, as strings';
  return undefined;
}

/** The optimizer's slots written by writeCheckpoint: `slots` copies of every parameter, in the network's dtype. */
function readOptimizer(dir: string, file: CheckpointFile<unknown>, net: Network, slots: number): OptimizerState | undefined {
  const path = join(dir, 'state.json');
  if (slots === 0) return undefined;
  const o = file.optimizer;
  if (!o || typeof o !== 'object' || !isInt(o.t, 0) || typeof o.file !== 'string' || !/^optimizer-\d+\.bin$/.test(o.file)) {
    throw new ModelFileError(`${path}: optimizer must give the step count t and an optimizer-N.bin file of the checkpoint`);
  }
  const b = readFileOr(join(dir, o.file));
  const params = net.weights.flatMap((W, l) => [W.data, net.biases[l]]);
  const width = net.dtype === 'float64' ? 8 : 4;
  const expected = slots * params.reduce((n, p) => n + p.length, 0) * width;
  if (b.length !== expected)
    throw new ModelFileError(`${join(dir, o.file)}: ${b.length} bytes, expected ${expected} (${slots} slot${slots === 1 ? '' : 's'} of the ${net.parameterCount} parameters in ${net.dtype})`);
  let at = 0;
  const take = (n: number) => {
    const bytes = Uint8Array.prototype.slice.call(b, at, (at += n * width)); // a copy, aligned
    return width === 8 ? new Float64Array(bytes.buffer) : new Float32Array(bytes.buffer);
  };
  return { t: o.t, slots: Array.from({ length: slots }, () => params.map((p) => take(p.length))) };
}

function readFileOr(path: string): Buffer {
  try {
    return readFileBounded(path, MODEL_FILE_LIMIT);
  } catch (e) {
    const reason = e instanceof BoundedReadError ? e.reason : String(e);
    throw new ModelFileError(reason === 'ENOENT' ? `${path}: missing from the checkpoint` : `${path}: cannot read (${reason})`);
  }
}
