import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Network } from '../nn/network.js';
import type { TrainState } from '../train/session.js';
import { writeFileAtomic } from './atomic.js';
import { decodeSafetensors, encodeSafetensors, ModelFileError } from './safetensors.js';

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
  options: O;
  state: Omit<TrainState, 'order'>;
}

/**
 * Writes a checkpoint into dir. The weights and the example order go to files
 * named by a new generation, each written atomically; state.json, written
 * last (atomically), is what makes them current; older generations are then
 * removed. A crash at any point leaves the previous checkpoint intact.
 */
export function writeCheckpoint<O>(dir: string, net: Network, rng: Uint32Array, state: TrainState, options: O): void {
  if (!existsSync(dir)) mkdirSync(dir);
  let generation = 1;
  try {
    generation = (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { generation: number }).generation + 1;
  } catch {
    // first checkpoint in this directory
  }
  const model = `model-${generation}.safetensors`;
  const order = `order-${generation}.bin`;
  writeFileAtomic(join(dir, model), encodeSafetensors(net));
  const o = Buffer.alloc(state.order.length * 4);
  state.order.forEach((v, i) => o.writeUInt32LE(v, 4 * i));
  writeFileAtomic(join(dir, order), o);
  const { order: _order, ...rest } = state;
  const file: CheckpointFile<O> = { format: 'backprop-checkpoint', version: 1, generation, model, order, rng: Array.from(rng), options, state: rest };
  writeFileAtomic(join(dir, 'state.json'), JSON.stringify(file, null, 1));
  for (const f of readdirSync(dir)) {
    if (/^(model|order)-\d+\./.test(f) && f !== model && f !== order) rmSync(join(dir, f), { force: true });
  }
}

export interface Checkpoint<O> {
  network: Network;
  rng: Uint32Array;
  state: TrainState;
  options: O;
}

/** Reads a checkpoint written by writeCheckpoint; every inconsistency is a ModelFileError. */
export function readCheckpoint<O>(dir: string): Checkpoint<O> {
  const path = join(dir, 'state.json');
  if (!existsSync(path)) throw new ModelFileError(`--resume ${dir}: no checkpoint there (state.json is missing)`);
  let file: CheckpointFile<O>;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as CheckpointFile<O>;
  } catch {
    throw new ModelFileError(`${path}: not valid JSON`);
  }
  if (file.format !== 'backprop-checkpoint' || file.version !== 1) throw new ModelFileError(`${path}: not a backprop checkpoint (version 1)`);
  if (!Array.isArray(file.rng) || file.rng.length !== 4) throw new ModelFileError(`${path}: the RNG state must be 4 numbers`);
  const network = decodeSafetensors(readFileOr(join(dir, file.model)), join(dir, file.model)).network;
  const ob = readFileOr(join(dir, file.order));
  if (ob.length % 4) throw new ModelFileError(`${join(dir, file.order)}: ${ob.length} bytes is not a list of uint32`);
  const order = new Uint32Array(ob.length / 4);
  for (let i = 0; i < order.length; i++) order[i] = ob.readUInt32LE(4 * i);
  return { network, rng: Uint32Array.from(file.rng), state: { ...file.state, order }, options: file.options };
}

function readFileOr(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new ModelFileError(`${path}: missing from the checkpoint`);
  }
}
