import type { Float } from '../linalg/index.js';

/**
 * Batch normalisation, Ioffe & Szegedy 2015, "Batch Normalization:
 * Accelerating Deep Network Training by Reducing Internal Covariate Shift"
 * (Algorithm 1 for the forward pass, §3 for the gradients, §3.2 for
 * convolutions), applied to Z^l between the layer's product and its
 * activation: Z → BN → f. Row i of Z is one feature (a unit of a dense layer,
 * a channel of a conv layer); its N columns are the examples (dense, N = m)
 * or the examples × positions (conv, N = m·P: one γ_i, β_i per channel, as
 * §3.2 asks). b^l is not used under batch normalisation: the mean it would
 * shift is subtracted again, β takes its place (PyTorch's bias=False).
 *
 * Training, on the batch's statistics:
 *   μ_i = (1/N) Σ_j z_ij,   σ²_i = (1/N) Σ_j (z_ij − μ_i)²
 *   x̂_ij = (z_ij − μ_i) / √(σ²_i + ε),   y_ij = γ_i x̂_ij + β_i
 * Running statistics for evaluation, PyTorch's convention (momentum 0.1, the
 * unbiased variance):
 *   r_μ ← (1 − 0.1) r_μ + 0.1 μ,   r_σ² ← (1 − 0.1) r_σ² + 0.1 σ² N/(N − 1)
 * Evaluation (Algorithm 2's inference network, with the running averages):
 *   y_ij = γ_i (z_ij − r_μ,i) / √(r_σ²,i + ε) + β_i
 * Backward, from G = ∂C/∂Y (§3's chain rule, summed up):
 *   ∂C/∂β_i = Σ_j G_ij,   ∂C/∂γ_i = Σ_j G_ij x̂_ij
 *   ∂C/∂z_ij = γ_i/√(σ²_i + ε) · (G_ij − (1/N) ∂C/∂β_i − x̂_ij (1/N) ∂C/∂γ_i)
 *
 * γ and β of a layer are one parameter vector [γ; β] of 2F entries, stored
 * as an extra entry of Network.biases after the L layers' (with an empty
 * 0 × F entry of Network.weights beside it), so the optimizers and
 * checkpoints carry them as they carry every b^l (no weight decay).
 */

/** ε of PyTorch's and Keras's BatchNorm (Keras: 1e-3; PyTorch: 1e-5, ours). */
export const BN_EPS = 1e-5;
/** PyTorch's momentum: the weight of the new batch in the running averages. */
export const BN_MOMENTUM = 0.1;

/** Per-layer buffers of one batch: Z before the normalisation, x̂, 1/√(σ² + ε), and the summed ∂C/∂γ, ∂C/∂β of the last backward pass. */
export interface BatchNormBuffers {
  /** Z = W A (no bias), F × N; z[l] of the workspace holds Y, what f reads. */
  readonly pre: Float;
  readonly xhat: Float;
  readonly invStd: Float;
  /** Σ_j G_ij x̂_ij and Σ_j G_ij: the gradients of Σ_x C_x (divide by m for the mean cost). */
  readonly dGamma: Float;
  readonly dBeta: Float;
}

/** How the forward pass normalises: with the batch's statistics, updating the running ones too (a training step), or with the running ones (evaluation). */
export type BatchNormMode = 'update' | 'batch' | 'running';

/**
 * y ← BN(z) over rows of N columns, γ = params[0..F), β = params[F..2F).
 * 'batch' and 'update' normalise with the batch's μ, σ² (keeping x̂ and
 * 1/√(σ² + ε) for the backward pass); 'update' also moves the running
 * averages; 'running' uses the running averages (evaluation).
 */
export function batchNormForward(mode: BatchNormMode, z: Float, F: number, N: number, params: Float, runningMean: Float, runningVar: Float, buf: BatchNormBuffers, y: Float): void {
  for (let i = 0; i < F; i++) {
    const gamma = params[i],
      beta = params[F + i],
      o = i * N;
    if (mode === 'running') {
      const mu = runningMean[i],
        inv = 1 / Math.sqrt(runningVar[i] + BN_EPS);
      for (let j = o; j < o + N; j++) y[j] = gamma * (z[j] - mu) * inv + beta; // y = γ (z − r_μ)/√(r_σ² + ε) + β
      continue;
    }
    let sum = 0;
    for (let j = o; j < o + N; j++) sum += z[j];
    const mu = sum / N; // μ = (1/N) Σ z
    let sq = 0;
    for (let j = o; j < o + N; j++) sq += (z[j] - mu) ** 2;
    const variance = sq / N; // σ² = (1/N) Σ (z − μ)²
    const inv = 1 / Math.sqrt(variance + BN_EPS);
    buf.invStd[i] = inv;
    for (let j = o; j < o + N; j++) {
      const xhat = (z[j] - mu) * inv; // x̂ = (z − μ)/√(σ² + ε)
      buf.xhat[j] = xhat;
      y[j] = gamma * xhat + beta; // y = γ x̂ + β
    }
    if (mode === 'update') {
      runningMean[i] = (1 - BN_MOMENTUM) * runningMean[i] + BN_MOMENTUM * mu; // r_μ ← 0.9 r_μ + 0.1 μ
      runningVar[i] = (1 - BN_MOMENTUM) * runningVar[i] + BN_MOMENTUM * (N > 1 ? (variance * N) / (N - 1) : variance); // r_σ² ← 0.9 r_σ² + 0.1 σ² N/(N − 1)
    }
  }
}

/**
 * The backward pass, in place: g holds G = ∂C/∂Y (F × N) and is replaced by
 * ∂C/∂Z; buf.dGamma and buf.dBeta receive Σ_j G_ij x̂_ij and Σ_j G_ij.
 * Needs the buffers of a 'batch' or 'update' forward pass.
 */
export function batchNormBackward(g: Float, F: number, N: number, params: Float, buf: BatchNormBuffers): void {
  for (let i = 0; i < F; i++) {
    const o = i * N;
    let dBeta = 0,
      dGamma = 0;
    for (let j = o; j < o + N; j++) {
      dBeta += g[j]; // ∂C/∂β = Σ G
      dGamma += g[j] * buf.xhat[j]; // ∂C/∂γ = Σ G x̂
    }
    buf.dBeta[i] = dBeta;
    buf.dGamma[i] = dGamma;
    const scale = params[i] * buf.invStd[i],
      meanG = dBeta / N,
      meanGx = dGamma / N;
    for (let j = o; j < o + N; j++) g[j] = scale * (g[j] - meanG - buf.xhat[j] * meanGx); // ∂C/∂z = γ/√(σ² + ε) (G − mean(G) − x̂ mean(G x̂))
  }
}
