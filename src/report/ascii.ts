/** A greyscale image (values in [0, 1]) as text, two characters per pixel so it keeps its shape. */
export function asciiImage(pixels: ArrayLike<number>, width: number, height = pixels.length / width): string {
  const ramp = ' .:-=+*#%@';
  const lines: string[] = [];
  for (let y = 0; y < height; y++) {
    let line = '';
    for (let x = 0; x < width; x++) {
      const v = Math.min(1, Math.max(0, pixels[y * width + x]));
      const c = ramp[Math.min(ramp.length - 1, Math.floor(v * ramp.length))];
      line += c + c;
    }
    lines.push(line.trimEnd());
  }
  return lines.join('\n');
}

/** Several images side by side, each with a caption above it. */
export function asciiRow(images: { pixels: ArrayLike<number>; caption: string }[], width: number): string {
  const blocks = images.map((im) => [im.caption, ...asciiImage(im.pixels, width).split('\n')]);
  const colWidth = 2 * width + 2;
  const rows = Math.max(...blocks.map((b) => b.length));
  const out: string[] = [];
  for (let r = 0; r < rows; r++)
    out.push(
      blocks
        .map((b) => (b[r] ?? '').padEnd(colWidth))
        .join('')
        .trimEnd(),
    );
  return out.join('\n');
}
