// How a panorama goes into textures no larger than the device's MAX_TEXTURE_SIZE: the GL
// viewer's TileLayout (viewer/renderer.py) plus, where even tiles cannot hold it, a coarser
// mip level from the server. Tiles start on multiples of the margin (a power of two), so their
// mip levels up to log2(margin) hold exactly the texels of the whole panorama's, and the margins
// (gutters) let trilinear sampling blend across tile borders as inside one texture.

export const MAX_TILES = 4;
const TILE_MARGIN = 256;

/** The tile plan for a level of `width`×`height`, or null when it cannot fit `maxSize`. */
export function planTiles(width, height, maxSize) {
  if (height > maxSize) return null;
  if (width <= maxSize) return { width, height, starts: [0], margin: 0, tileWidth: width };
  const margin = 1 << (Math.floor(Math.log2(Math.min(TILE_MARGIN, Math.floor(maxSize / 8)))));
  const payload = Math.floor((maxSize - 2 * margin) / margin) * margin;
  const n = Math.ceil(width / payload);
  if (n > MAX_TILES) return null;
  const starts = Array.from({ length: n }, (_, i) => i * payload);
  return { width, height, starts, margin, tileWidth: payload + 2 * margin };
}

/** The finest server level (index into `levels`, [[w, h], ...]) that fits, and its tile plan. */
export function planPanorama(levels, maxSize) {
  for (let k = 0; k < levels.length; k++) {
    const plan = planTiles(levels[k][0], levels[k][1], maxSize);
    if (plan) return { level: k, ...plan };
  }
  throw new Error(`no mip level fits a ${maxSize} texture limit`);
}

/** GL mip chain sizes of a w×h texture (srgb.mip_chain_sizes). */
export function mipChain(w, h) {
  const sizes = [[w, h]];
  while (w > 1 || h > 1) {
    w = Math.max(w >> 1, 1);
    h = Math.max(h >> 1, 1);
    sizes.push([w, h]);
  }
  return sizes;
}
