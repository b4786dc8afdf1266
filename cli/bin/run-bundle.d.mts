/** The code cache file of a bundle. */
export declare function codeCacheFile(bundle: string): string;
/** Runs a CommonJS bundle as the main program through a V8 code cache; `onCache` hears how the cache was used. */
export declare function runBundle(file: string, onCache?: (cache: 'hit' | 'missing' | 'rejected') => void): void;
