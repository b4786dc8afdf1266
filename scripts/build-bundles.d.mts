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
/** The tfjs packages the bundles take as their ES modules: one tfjs-core. */
export declare const TFJS_ES_MODULE_PACKAGES: readonly string[];
/** The file of a package's "module" entry, found from the repository `root`. */
export declare function esModuleEntry(root: string, pkg: string): string;
/** The esbuild plugin for the bundles' tfjs (TFJS_FOR_BUNDLES, one tfjs-core). */
export declare function tfjsForBundlesPlugin(root: string): import('esbuild').Plugin;
