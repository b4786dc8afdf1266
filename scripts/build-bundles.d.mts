// Types of scripts/build-bundles.mjs for the tests that call it.
export declare const BUNDLED_COMMANDS: Readonly<Record<string, string>>;
export declare const BUNDLE_DIR: string;
/** What the bundles import as `@tensorflow/tfjs` (scripts/tfjs-for-bundles.mjs). */
export declare const TFJS_FOR_BUNDLES: string;
export declare const EXTERNAL_PACKAGES: readonly string[];
export declare function relocateModuleSource(source: string, file: string, bundleDir: string): string;
export declare function bundleCommand(root: string, command: string): Promise<{ file: string; inputs: string[] }>;
export declare function bundleAll(root: string): Promise<Array<{ file: string; inputs: string[] }>>;
export declare const BUNDLE_IMPORT_FN: string;
