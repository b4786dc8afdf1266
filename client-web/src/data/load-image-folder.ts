import { checkClassCount, FedtuneError, IMAGE_HEADER_BYTES, imageHeaderSize, imageTooLarge, MAX_CLASSES, type Dataset } from '@fedtune/shared';

export interface ImageFolderOptions {
  /** Images are scaled to size × size grayscale pixels in [0, 1]. */
  size?: number;
  /** Number of classes of the run's model (default: the number of labels found). */
  numClasses?: number;
}

export interface ImageFolderDataset {
  dataset: Dataset;
  /** Class index → subfolder name. */
  labels: string[];
  skipped: string[];
}

const IMAGE = /\.(png|jpe?g|gif|bmp|webp)$/i;

/**
 * The label folder of a file picked with `webkitdirectory` (`picked/label/…/file.png`): the folder right
 * above the file, below the picked folder. Files directly in the picked folder have no label.
 */
function labelOf(file: File): string | undefined {
  const parts = file.webkitRelativePath.split('/');
  return parts.length >= 3 ? parts[parts.length - 2] : undefined;
}

/**
 * Class indices for the label folders: all-integer names keep their number ("0".."9"), otherwise the
 * names in sorted order.
 */
export function labelIndex(names: string[]): Map<string, number> {
  const unique = [...new Set(names)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const numeric = unique.every((n) => /^\d+$/.test(n));
  return new Map(unique.map((n, i) => [n, numeric ? Number(n) : i]));
}

/**
 * The size an image file declares: from its first IMAGE_HEADER_BYTES, or — when those do not tell, as for a JPEG
 * whose metadata segments push its frame header past them — from the whole file, which decoding reads anyway.
 */
async function declaredSize(file: File): Promise<{ width: number; height: number } | undefined> {
  const size = imageHeaderSize(new Uint8Array(await file.slice(0, IMAGE_HEADER_BYTES).arrayBuffer()));
  if (size || file.size <= IMAGE_HEADER_BYTES) return size;
  return imageHeaderSize(new Uint8Array(await file.arrayBuffer()));
}

/** Decodes one image to `size × size` grayscale values in [0, 1] (ITU-R BT.601 luma). */
async function decodeGray(file: File, size: number, canvas: OffscreenCanvas | HTMLCanvasElement): Promise<Float32Array> {
  // The declared size first: the tab would decode a 900 kB PNG of 30000×30000 into 3.6 GB and be killed.
  const tooLarge = imageTooLarge(await declaredSize(file));
  if (tooLarge) throw new Error(tooLarge);
  const bitmap = await createImageBitmap(file);
  const ctx = canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D | null;
  if (!ctx) throw new FedtuneError('data', 'this browser cannot decode images (no 2D canvas)');
  ctx.clearRect(0, 0, size, size);
  ctx.drawImage(bitmap, 0, 0, size, size);
  bitmap.close();
  const rgba = ctx.getImageData(0, 0, size, size).data;
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) {
    const a = rgba[4 * i + 3] / 255;
    out[i] = ((0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255) * a;
  }
  return out;
}

/** Reads a folder of images whose subfolder names are the labels. Decoding happens in the tab. */
export async function loadImageFolder(files: ArrayLike<File>, options: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const size = options.size ?? 28;
  const images: Array<{ file: File; label: string }> = [];
  const skipped: string[] = [];
  for (const file of Array.from(files)) {
    const label = labelOf(file);
    if (IMAGE.test(file.name) && label) images.push({ file, label });
    else skipped.push(file.webkitRelativePath || file.name);
  }
  if (images.length === 0) throw new FedtuneError('data', 'no images found: pick a folder with one subfolder of images per label');
  const index = labelIndex(images.map((i) => i.label));
  checkClassCount('the picked folder', index.size, 'label folders');
  const found = Math.max(...index.values()) + 1;
  // A folder named 1000000000 would size every per-class table (and the tab's memory) by it.
  if (found > MAX_CLASSES) throw new FedtuneError('data', `a label folder is named ${found - 1}: at most ${MAX_CLASSES} classes are supported (labels 0..${MAX_CLASSES - 1})`);
  const numClasses = options.numClasses ?? found;
  if (found > numClasses) throw new FedtuneError('data', `the folders name ${found} classes but the model has ${numClasses}`);
  const canvas = typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(size, size) : Object.assign(document.createElement('canvas'), { width: size, height: size });
  const f = size * size;
  const x = new Float32Array(images.length * f);
  const y = new Int32Array(images.length);
  for (let k = 0; k < images.length; k++) {
    try {
      x.set(await decodeGray(images[k].file, size, canvas), k * f);
    } catch (err) {
      throw new FedtuneError('data', `cannot decode ${images[k].file.webkitRelativePath || images[k].file.name}: ${(err as Error).message}`);
    }
    y[k] = index.get(images[k].label)!;
  }
  const labels: string[] = [];
  for (const [name, i] of index) labels[i] = name;
  return { dataset: { x, y, featureShape: [f], numClasses }, labels, skipped };
}
