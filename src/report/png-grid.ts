import { createRequire } from 'node:module';
import type { PNG as PngClass } from 'pngjs';

/** A row of greyscale tiles, each `size` = [rows, cols] values row-major, drawn with its own contrast. */
export interface TileRow {
  tiles: ArrayLike<number>[];
  /** 'own': each tile stretched from its min (black) to its max (white); 'unit': 0 is black, 1 is white. */
  scale: 'own' | 'unit';
}

/**
 * Draws rows of tiles (28×28 filters, digits) as one greyscale PNG, tiles
 * separated by a 1-pixel grey line and rows of tiles by `gap` pixels. Returns
 * the encoded PNG bytes.
 */
export function tileGridPng(rows: TileRow[], size: readonly [number, number], perRow: number, gap = 1): Buffer {
  const [th, tw] = size;
  const width = perRow * (tw + 1) + 1;
  const height = rows.reduce((h, r) => h + Math.ceil(r.tiles.length / perRow) * (th + 1), 0) + 1 + gap * Math.max(0, rows.length - 1);
  // pngjs loads on first use: most commands never draw a PNG.
  const { PNG } = createRequire(import.meta.url)('pngjs') as { PNG: typeof PngClass };
  const png = new PNG({ width, height, colorType: 0 });
  png.data.fill(0);
  const put = (x: number, y: number, v: number) => {
    const o = 4 * (y * width + x);
    png.data[o] = png.data[o + 1] = png.data[o + 2] = v;
    png.data[o + 3] = 255;
  };
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) put(x, y, 128);
  let top = 0;
  for (const row of rows) {
    row.tiles.forEach((t, i) => {
      let lo = 0,
        hi = 1;
      if (row.scale === 'own') {
        lo = Infinity;
        hi = -Infinity;
        for (let k = 0; k < th * tw; k++) {
          lo = Math.min(lo, t[k]);
          hi = Math.max(hi, t[k]);
        }
      }
      const span = hi > lo ? hi - lo : 1;
      const x0 = 1 + (i % perRow) * (tw + 1),
        y0 = top + 1 + Math.floor(i / perRow) * (th + 1);
      for (let r = 0; r < th; r++) {
        for (let c = 0; c < tw; c++) put(x0 + c, y0 + r, Math.round(255 * Math.min(1, Math.max(0, (t[r * tw + c] - lo) / span))));
      }
    });
    top += Math.ceil(row.tiles.length / perRow) * (th + 1) + gap;
  }
  return PNG.sync.write(png, { colorType: 0 });
}

/** The RBM's filters in a grid, and below them test digits over their reconstructions. */
export function filtersPng(images: { filters: ArrayLike<number>[]; originals: ArrayLike<number>[]; reconstructions: ArrayLike<number>[] }, shape: readonly [number, number]): Buffer {
  const perRow = Math.min(10, Math.max(images.originals.length, Math.ceil(Math.sqrt(images.filters.length))));
  return tileGridPng(
    [
      { tiles: images.filters, scale: 'own' },
      { tiles: images.originals, scale: 'unit' },
      { tiles: images.reconstructions, scale: 'unit' },
    ],
    shape,
    perRow,
    4,
  );
}
