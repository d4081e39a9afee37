/** Storage for matrices: float32 for training, float64 for gradient checks. */
export type Float = Float32Array | Float64Array;
export type DType = 'float32' | 'float64';

/**
 * A dense row-major matrix: element (i, j) lives at data[i * cols + j].
 * A mini-batch is a matrix whose columns are examples (docs/architecture.md, "The equations").
 */
export class Matrix {
  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly data: Float,
  ) {
    if (data.length !== rows * cols) {
      throw new Error(`Matrix ${rows}x${cols} needs ${rows * cols} values, got ${data.length}`);
    }
  }

  static zeros(rows: number, cols: number, dtype: DType = 'float32'): Matrix {
    return new Matrix(rows, cols, dtype === 'float64' ? new Float64Array(rows * cols) : new Float32Array(rows * cols));
  }

  static from(rows: number, cols: number, values: ArrayLike<number>, dtype: DType = 'float32'): Matrix {
    const m = Matrix.zeros(rows, cols, dtype);
    m.data.set(values);
    return m;
  }

  get dtype(): DType {
    return this.data instanceof Float64Array ? 'float64' : 'float32';
  }

  get(i: number, j: number): number {
    return this.data[i * this.cols + j];
  }

  set(i: number, j: number, v: number): void {
    this.data[i * this.cols + j] = v;
  }

  clone(): Matrix {
    return new Matrix(this.rows, this.cols, this.data.slice());
  }

  /** A copy in another precision. */
  as(dtype: DType): Matrix {
    const m = Matrix.zeros(this.rows, this.cols, dtype);
    m.data.set(this.data);
    return m;
  }

  /** Plain nested arrays, for tests and printing. */
  toArray(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.rows; i++) out.push(Array.from(this.data.subarray(i * this.cols, (i + 1) * this.cols)));
    return out;
  }
}
