/** The workspace packages compiled into <package>/dist (scripts/build-js.mjs). */
export declare const COMPILED_PACKAGES: readonly string[];
/** The compiled entry of the repository at `root` (a file: URL), or why the TypeScript sources run instead. */
export declare function compiledEntry(root: string, env?: NodeJS.ProcessEnv): { url: string; reason?: undefined } | { url?: undefined; reason: string };
