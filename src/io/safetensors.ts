import { BoundedReadError, MODEL_FILE_LIMIT, readFileBounded } from '../base/read.js';
import { Matrix, type Float } from '../linalg/index.js';
import { isActivationName } from '../nn/activations.js';
import { COSTS, type CostName } from '../nn/costs.js';
import { architectureGeometry, Network, pairingProblem, type Architecture } from '../nn/network.js';
import { formatLayers, LayerSpecError, layerSpecs, parseLayerList } from '../nn/layers.js';
import { writeFileAtomic } from '../base/atomic.js';
import { QUOTE_LIMIT, safeText } from '../base/terminal-safe.js';

/** Thrown for a model file that cannot be used: the CLI prints it on one line and exits 2. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
}

/** Widest layer a model file may declare (V8's longest typed array). */
const MAX_LAYER = 2 ** 31 - 1;

/** Largest header we accept (the format's own readers use 100 MB). */
const MAX_HEADER = 100_000_000;

interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Encodes a network as safetensors: an 8-byte little-endian header length,
 * a JSON header, then the raw little-endian tensors W1, b1, W2, b2, ...,
 * and for each batch-normalised layer l bnl.weight (γ), bnl.bias (β),
 * bnl.running_mean and bnl.running_var (PyTorch's names).
 * The architecture lives in `__metadata__` (string values only, as the format
 * requires). The output depends only on the network and `extra`, so the same
 * weights always give the same bytes.
 */
export function encodeSafetensors(net: Network, extra: Record<string, string> = {}): Uint8Array {
  const dtype = net.dtype === 'float64' ? 'F64' : 'F32';
  const bytesPer = net.dtype === 'float64' ? 8 : 4;
  const header: Record<string, unknown> = {
    __metadata__: {
      format: 'backprop',
      version: '1',
      sizes: net.sizes.join(','),
      activation: net.arch.activation,
      output_activation: net.arch.outputActivation,
      cost: net.arch.cost,
      ...(net.arch.layers && net.arch.input ? { layers: formatLayers(net.arch.layers), input: net.arch.input.join(',') } : {}), // conv nets (docs/guide/convolution.md)
      ...(net.arch.batchNorm?.length ? { batch_norm: net.arch.batchNorm.join(',') } : {}), // the batch-normalised layers (docs/guide/batchnorm.md)
      ...extra,
    },
  };
  const tensors: Float[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], data: Float) => {
    const size = data.length * bytesPer;
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    tensors.push(data);
    offset += size;
  };
  for (let l = 1; l <= net.depth; l++) {
    const W = net.weights[l - 1];
    add(`W${l}`, net.summary()[l - 1].weightShape, W.data); // conv: PyTorch's [out, in, kh, kw], the same row-major bytes
    add(`b${l}`, [net.biases[l - 1].length], net.biases[l - 1]);
  }
  // each batch normalisation under PyTorch's names for a BatchNorm module: γ, β and the running statistics
  for (const n of net.norm) {
    if (!n) continue;
    add(`bn${n.layer}.weight`, [n.features], n.params.subarray(0, n.features));
    add(`bn${n.layer}.bias`, [n.features], n.params.subarray(n.features));
    add(`bn${n.layer}.running_mean`, [n.features], n.runningMean);
    add(`bn${n.layer}.running_var`, [n.features], n.runningVar);
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json, 'utf8')) % 8)) % 8); // align the data to 8 bytes (counted in UTF-8 bytes: metadata may hold η, β₁, …)
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    const tv = new DataView(out.buffer, pos, t.length * bytesPer);
    for (let i = 0; i < t.length; i++) {
      if (bytesPer === 8) tv.setFloat64(i * 8, t[i], true);
      else tv.setFloat32(i * 4, t[i], true);
    }
    pos += t.length * bytesPer;
  }
  return out;
}

export function saveModel(path: string, net: Network, extra: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(net, extra));
}

export interface LoadedModel {
  network: Network;
  metadata: Record<string, string>;
}

/** A saved model, read whole (bounded); `flag` names it in a refusal: `--model` unless the model came by another flag (`--config`). */
export function loadModel(path: string, flag = '--model'): LoadedModel {
  let buf: Buffer;
  try {
    buf = readFileBounded(path, MODEL_FILE_LIMIT);
  } catch (e) {
    const reason = e instanceof BoundedReadError ? e.reason : String(e);
    throw new ModelFileError(`${flag} ${path}: ${reason.startsWith('not a regular file') ? reason : `cannot read (${reason})`}`);
  }
  return decodeSafetensors(buf, path);
}

/** Parses and validates a safetensors model written by backprop; `name` is used in errors. */
export function decodeSafetensors(buf: Uint8Array, name: string): LoadedModel {
  const fail = (msg: string): never => {
    throw new ModelFileError(`${name}: ${msg}`);
  };
  if (buf.length < 8) fail(`${buf.length} bytes is too short for a safetensors file`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} is larger than the ${MAX_HEADER}-byte limit`);
  const headerLen = Number(n);
  if (8 + headerLen > buf.length) fail(`header length ${headerLen} runs past the end of the ${buf.length}-byte file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    return fail('header is not valid JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const meta = header.__metadata__ as Record<string, string> | undefined;
  if (!meta || typeof meta !== 'object' || meta.format !== 'backprop') fail('not a backprop model (no __metadata__.format = "backprop")');
  const m = meta as Record<string, string>;
  const sizes = String(m.sizes ?? '')
    .split(',')
    .map(Number);
  if (sizes.length < 2 || sizes.some((s) => !Number.isInteger(s) || s <= 0)) fail(`__metadata__.sizes "${m.sizes}" is not a list of positive integers`);
  // A layer wider than an array can hold cannot be in the file: refused before anything is sized from it.
  const wide = sizes.find((s) => s > MAX_LAYER);
  if (wide !== undefined) fail(`__metadata__.sizes holds ${wide}, more units than a layer can have (${MAX_LAYER})`);
  for (const key of ['activation', 'output_activation'] as const) {
    if (!isActivationName(m[key])) fail(`__metadata__.${key} "${m[key]}" is not a known activation`);
  }
  if (!(COSTS as readonly string[]).includes(m.cost)) fail(`__metadata__.cost "${m.cost}" is not a known cost`);
  const arch: Architecture = {
    sizes,
    activation: m.activation as Architecture['activation'],
    outputActivation: m.output_activation as Architecture['activation'],
    cost: m.cost as CostName,
  };
  if (m.layers !== undefined || m.input !== undefined) {
    // a conv net: its layer list and input image c,h,w, which must give the sizes
    if (m.layers === undefined || m.input === undefined) fail(`__metadata__ has ${m.layers === undefined ? 'input but no layers' : 'layers but no input'}: a conv net records both`);
    const input = m.input.split(',').map(Number);
    if (input.length !== 3 || input.some((s) => !Number.isInteger(s) || s <= 0)) fail(`__metadata__.input "${m.input}" is not channels,rows,cols`);
    try {
      arch.layers = layerSpecs(parseLayerList(m.layers));
      arch.input = [input[0], input[1], input[2]];
      architectureGeometry(arch);
    } catch (e) {
      fail(`__metadata__.layers "${m.layers}" ${e instanceof LayerSpecError ? `is refused: ${e.message}` : `does not give the sizes ${sizes.join(',')}`}`);
    }
  }
  if (m.batch_norm !== undefined) {
    const layers = String(m.batch_norm).split(',').map(Number);
    if (layers.some((l, k) => !Number.isInteger(l) || l < 1 || l >= sizes.length - 1 || (k > 0 && l <= layers[k - 1]))) {
      fail(`__metadata__.batch_norm "${m.batch_norm}" is not an ascending list of hidden layers 1..${sizes.length - 2}`);
    }
    arch.batchNorm = layers;
  }
  const geometry = architectureGeometry(arch);
  // A pairing train refuses (a hidden softmax, a sigmoid output under log-likelihood, …) is refused here too: its outputs and cost mean nothing.
  const refused = pairingProblem(sizes.length > 2 ? arch : { ...arch, activation: 'relu' });
  if (refused) fail(`__metadata__ describes a network train refuses: ${refused.replace(/^--\S+ \S+: /, '')}`);
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const spans: [number, number, string][] = [];
  const read = (key: string, shape: number[]): Float => {
    const info = header[key] as TensorInfo | undefined;
    if (!info || typeof info !== 'object') return fail(`tensor ${key} is missing`);
    if (!Array.isArray(info.shape) || info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      fail(`tensor ${key} has shape [${info.shape}], expected [${shape}] for sizes ${sizes.join(',')}`);
    }
    const bytesPer = info.dtype === 'F32' ? 4 : info.dtype === 'F64' ? 8 : fail(`tensor ${key} has dtype ${info.dtype}, expected F32 or F64`);
    const [s, e] = Array.isArray(info.data_offsets) ? info.data_offsets : [NaN, NaN];
    const count = shape.reduce((p, d) => p * d, 1);
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > dataLen || e - s !== count * bytesPer) {
      fail(`tensor ${key} data_offsets [${s}, ${e}] do not hold ${count} ${info.dtype} values inside ${dataLen} data bytes`);
    }
    spans.push([s, e, key]);
    const tv = new DataView(buf.buffer, buf.byteOffset + dataStart + s, e - s);
    const out = bytesPer === 8 ? new Float64Array(count) : new Float32Array(count);
    for (let i = 0; i < count; i++) {
      out[i] = bytesPer === 8 ? tv.getFloat64(8 * i, true) : tv.getFloat32(4 * i, true);
      if (!Number.isFinite(out[i])) fail(`tensor ${key} holds ${out[i]} at index ${i}: a model's weights must be finite`);
    }
    return out;
  };
  const weights: Matrix[] = [];
  const biases: Float[] = [];
  for (let l = 1; l < sizes.length; l++) {
    const g = geometry[l];
    const W = read(`W${l}`, g ? [g.cOut, g.cIn, g.spec.kh, g.spec.kw] : [sizes[l], sizes[l - 1]]);
    weights.push(g ? new Matrix(g.cOut, g.K, W) : new Matrix(sizes[l], sizes[l - 1], W));
    biases.push(read(`b${l}`, [g ? g.cOut : sizes[l]]));
  }
  const running: { mean: Float; variance: Float }[] = [];
  for (const l of arch.batchNorm ?? []) {
    const F = geometry[l]?.cOut ?? sizes[l];
    const gamma = read(`bn${l}.weight`, [F]),
      beta = read(`bn${l}.bias`, [F]);
    const params = gamma instanceof Float64Array ? new Float64Array(2 * F) : new Float32Array(2 * F);
    params.set(gamma);
    params.set(beta, F);
    const variance = read(`bn${l}.running_var`, [F]);
    if (variance.some((v) => v < 0)) fail(`tensor bn${l}.running_var holds a negative variance`);
    running.push({ mean: read(`bn${l}.running_mean`, [F]), variance });
    weights.push(new Matrix(0, F, params instanceof Float64Array ? new Float64Array(0) : new Float32Array(0)));
    biases.push(params);
  }
  const problem = tensorsProblem(header, spans, [...biases, ...running.flatMap((r) => [r.mean, r.variance]), ...weights.map((w) => w.data)], m);
  if (problem) fail(problem);
  return { network: new Network(arch, weights, biases, undefined, undefined, running), metadata: m };
}

/**
 * What is wrong with the tensors of a file as a whole, once each was read
 * (`spans`: their byte ranges and names): both dtypes, overlapping bytes, or
 * a tensor the metadata does not account for. A bn1.weight beside metadata
 * without batch_norm (a file edited by hand, or cut from another) would be
 * ignored and the network evaluated without its normalisation: refused, as
 * a W3 beyond sizes of two layers is.
 */
function tensorsProblem(header: Record<string, unknown>, spans: [number, number, string][], tensors: Float[], m: Record<string, string>): string | undefined {
  if (new Set(tensors.map((t) => t instanceof Float64Array)).size > 1) return 'tensors mix F32 and F64';
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) if (spans[i][0] < spans[i - 1][1]) return `tensors ${spans[i - 1][2]} and ${spans[i][2]} overlap`;
  const names = new Set(spans.map((s) => s[2]));
  const stray = Object.keys(header).filter((k) => k !== '__metadata__' && !names.has(k));
  if (stray.length === 0) return undefined;
  const described = `sizes ${m.sizes}${m.layers === undefined ? '' : `, layers ${m.layers}`}, ${m.batch_norm === undefined ? 'no batch_norm' : `batch_norm ${m.batch_norm}`}`;
  return `tensor ${safeText(stray[0], QUOTE_LIMIT)}${stray.length > 1 ? ` (and ${stray.length - 1} more)` : ''} is not part of the network its __metadata__ describes (${safeText(described, QUOTE_LIMIT)})`;
}

/**
 * The training options a model records (__metadata__.options, JSON written by
 * train), or why they cannot be used: a file edited by hand or by someone
 * else may hold anything there. (`train --config MODEL` should refuse with
 * the problem; `summary` shows it as a note.)
 */
export function recordedOptions(metadata: Record<string, string>): { value?: Record<string, unknown>; problem?: string } {
  const text = metadata.options;
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch {
    return { problem: `__metadata__.options is not valid JSON (${String(text).length} characters): the training options are not shown` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { problem: `__metadata__.options is ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not an object of training options: not shown` };
  }
  return { value: value as Record<string, unknown> };
}
