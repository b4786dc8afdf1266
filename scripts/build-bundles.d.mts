// Types of scripts/build-bundles.mjs for the tests that call it.
export declare const BUNDLED_COMMANDS: Readonly<Record<string, string>>;
export declare const BUNDLE_DIR: string;
/** What the bundles import as `@tensorflow/tfjs` (scripts/tfjs-for-bundles.mjs). */
export declare const TFJS_FOR_BUNDLES: string;
export declare const EXTERNAL_PACKAGES: readonly string[];
export declare function relocateModuleSource(source: string, file: string, bundleDir: string): string;
export declare function bundleCommand(root: string, command: string): Promise<{ file: string; inputs: string[] }>;
export declare function bundleAll(root: string): Promise<Array<{ file: string; inputs?: string[] }>>;
export declare const BUNDLE_IMPORT_FN: string;
/** The tfjs packages the bundles take as their ES modules: one tfjs-core. */
export declare const TFJS_ES_MODULE_PACKAGES: readonly string[];
/** The file of a package's "module" entry, found from the repository `root`. */
export declare function esModuleEntry(root: string, pkg: string): string;
/** The esbuild plugin for the bundles' tfjs (TFJS_FOR_BUNDLES, one tfjs-core). */
export declare function tfjsForBundlesPlugin(root: string): import('esbuild').Plugin;
/** The esbuild namespace of the modules through which the bundles `require` an ES tfjs package once. */
export declare const REQUIRED_VIEW_NAMESPACE: string;
/** The compiled package directories whose unused modules a bundle leaves out. */
export declare const DROPPABLE_PACKAGE_DIRS: readonly string[];
/** Compiled modules that act when loaded, kept whenever imported. */
export declare const MODULES_WITH_SIDE_EFFECTS: readonly string[];
/** The esbuild plugin that leaves out unused compiled modules. */
export declare function unusedModulesDroppedPlugin(root: string): import('esbuild').Plugin;
/** The compiled worker modules bundled next to themselves (`<name>.bundle.cjs`). */
export declare const BUNDLED_WORKERS: readonly string[];
export declare function workerBundleFile(workerJs: string): string;
export declare function bundleWorker(root: string, worker: string): Promise<{ file: string }>;
