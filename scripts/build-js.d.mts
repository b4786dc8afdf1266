// Types of scripts/build-js.mjs for the tests that call it.
export declare const COMPILED_PACKAGES: readonly string[];
export declare const COMPILED_SUBPATH: string;
export declare const REQUIRED_CJS_PACKAGES: readonly string[];
export declare function rewriteWorkspaceImports(js: string): string;
export declare function requireCommonJsDependencies(js: string): string;
export declare function buildPackage(root: string, name: string, options: object): number;
export declare function buildAll(root: string, progress?: (step: string) => void): Promise<{ files: number; bundles: number; workerBundles: number; ms: number }>;
