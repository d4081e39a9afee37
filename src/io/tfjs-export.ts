import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Network } from '../nn/network.js';
import { LEAKY_SLOPE, leakyRelu } from '../nn/activations.js';
import { checkOutputDir, writeDirectoryAtomic } from '../base/atomic.js';
import { BN_EPS, BN_MOMENTUM } from '../nn/batchnorm.js';

/**
 * Writes the network as a TensorFlow.js Layers model (model.json + one
 * weights file) that tf.loadLayersModel loads as a Sequential of Dense layers.
 * The model is built with tfjs-layers itself and saved through a custom
 * handler, so the format is tfjs's own. Dense kernels are Wᵀ (inputs × units):
 * Keras computes x·kernel + b on rows, we compute W·a + b on columns.
 */
export async function exportTfjs(net: Network, outDir: string): Promise<{ modelJson: string; weights: string }> {
  const tf: typeof TF = await import('@tensorflow/tfjs');
  tf.env().set('PROD', true); // no console banner about tfjs-node
  const model = tf.sequential();
  const assign: [string, TF.Tensor[]][] = [];
  net.weights.slice(0, net.depth).forEach((W, l) => {
    const leaky = net.activations[l] === leakyRelu; // leaky ReLU is its own layer in Keras, after a linear Dense
    const keras = leaky ? 'linear' : net.activations[l].name;
    const g = net.geometry[l + 1],
      bn = net.norm[l + 1];
    // under batch normalisation (docs/guide/batchnorm.md) the layer is linear and has no bias; BatchNormalization and the activation follow
    const own = bn ? 'linear' : keras;
    const normalise = (axis: number) => {
      if (!bn) return;
      const F = bn.features;
      // Keras's momentum is the weight of the old average: 1 − PyTorch's 0.1
      // channels first: BatchNormalization on the last axis between two Permutes (tfjs 4's inference on axis 1 of NCHW maps does not broadcast its statistics per channel)
      if (axis === 1) model.add(tf.layers.permute({ dims: [2, 3, 1], name: `to_channels_last_${l + 1}` }));
      model.add(tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPS, momentum: 1 - BN_MOMENTUM, name: `batchnorm_${l + 1}` }));
      if (axis === 1) model.add(tf.layers.permute({ dims: [3, 1, 2], name: `to_channels_first_${l + 1}` }));
      assign.push([`batchnorm_${l + 1}`, [bn.params.subarray(0, F), bn.params.subarray(F), bn.runningMean, bn.runningVar].map((v) => tf.tensor1d(Float32Array.from(v)))]);
      if (!leaky) model.add(tf.layers.activation({ activation: keras as 'relu', name: `activation_${l + 1}` }));
    };
    if (g) {
      // a conv layer (docs/guide/convolution.md): the flat input reshaped to [c, h, w], channelsFirst throughout so that
      // Flatten keeps our (c, h, w) order; padding as ZeroPadding2D; the kernel is W [out, in, kh, kw] transposed to [kh, kw, in, out]
      const channelsFirst = { dataFormat: 'channelsFirst' as const };
      if (l === 0) model.add(tf.layers.reshape({ targetShape: [g.cIn, g.h, g.w], inputShape: [net.sizes[0]], name: 'image' }));
      if (g.spec.padding) model.add(tf.layers.zeroPadding2d({ padding: g.spec.padding, ...channelsFirst, name: `padding_${l + 1}` }));
      model.add(tf.layers.conv2d({ filters: g.cOut, kernelSize: [g.spec.kh, g.spec.kw], activation: own as 'relu', useBias: !bn, ...channelsFirst, name: `conv_${l + 1}` }));
      assign.push([
        `conv_${l + 1}`,
        [tf.transpose(tf.tensor4d(Float32Array.from(W.data), [g.cOut, g.cIn, g.spec.kh, g.spec.kw]), [2, 3, 1, 0]), ...(bn ? [] : [tf.tensor1d(Float32Array.from(net.biases[l]))])],
      ]);
      normalise(1); // channelsFirst: the channels are axis 1
      if (leaky) model.add(tf.layers.leakyReLU({ alpha: LEAKY_SLOPE, name: `leaky_relu_${l + 1}` }));
      const p = g.spec.pool;
      if (p) model.add((p.kind === 'avg' ? tf.layers.averagePooling2d : tf.layers.maxPooling2d)({ poolSize: p.size, strides: p.size, ...channelsFirst, name: `pool_${l + 1}` }));
      if (!net.geometry[l + 2]) model.add(tf.layers.flatten({ name: `flatten_${l + 1}` }));
      return;
    }
    model.add(
      tf.layers.dense({
        units: W.rows,
        activation: own as 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'linear',
        useBias: !bn,
        ...(l === 0 ? { inputShape: [W.cols] } : {}),
        name: `dense_${l + 1}`,
      }),
    );
    assign.push([`dense_${l + 1}`, [tf.transpose(tf.tensor2d(Float32Array.from(W.data), [W.rows, W.cols])), ...(bn ? [] : [tf.tensor1d(Float32Array.from(net.biases[l]))])]]);
    normalise(-1);
    if (leaky) model.add(tf.layers.leakyReLU({ alpha: LEAKY_SLOPE, name: `leaky_relu_${l + 1}` }));
  });
  // layer by layer: a BatchNormalization layer's moving statistics are not trainable, and model.weights lists those after every trainable one
  for (const [name, tensors] of assign) {
    model.getLayer(name).setWeights(tensors);
    tf.dispose(tensors);
  }
  checkOutputDir(outDir, '--out');
  const modelJson = join(outDir, 'model.json');
  const weightsFile = join(outDir, 'weights.bin');
  let files: { name: string; data: Uint8Array | string }[] = [];
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const json = {
        format: 'layers-model',
        generatedBy: 'backprop',
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      files = [
        { name: 'weights.bin', data: new Uint8Array(artifacts.weightData as ArrayBuffer) },
        { name: 'model.json', data: JSON.stringify(json) },
      ];
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
    }),
  );
  writeDirectoryAtomic(outDir, files);
  model.dispose();
  return { modelJson, weights: weightsFile };
}
