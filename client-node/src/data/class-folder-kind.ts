import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FedtuneError } from '@fedtune/shared';
import { classFolders, IMAGE_FILE } from './read-image-folder.ts';
import { TEXT_FILE } from './read-text-folder.ts';

/**
 * Whether a folder of class folders holds texts (.txt files) or images (PNG/JPEG), told apart by the file
 * names. A tree holding both is refused in one line naming a file of each kind: reading it as either would
 * silently drop the other kind (a corrupt PNG among texts would vanish unreported).
 */
export function classFolderKind(dir: string): 'text' | 'image' {
  let image: string | undefined;
  let text: string | undefined;
  for (const name of classFolders(dir)) {
    for (const file of readdirSync(join(dir, name)).sort()) {
      if (!image && IMAGE_FILE.test(file)) image = join(dir, name, file);
      if (!text && TEXT_FILE.test(file)) text = join(dir, name, file);
    }
  }
  if (image && text) {
    throw new FedtuneError('data', `${dir} mixes image and text files (e.g. ${image} and ${text}): a data folder holds one kind, PNG/JPEG images or .txt texts`);
  }
  return text ? 'text' : 'image';
}
