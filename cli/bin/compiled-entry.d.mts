/** The workspace packages compiled into <package>/dist (scripts/build-js.mjs). */
export declare const COMPILED_PACKAGES: readonly string[];
/** The compiled entry of the repository at `root` (a file: URL), or why the TypeScript sources run instead. */
export declare function compiledEntry(root: string, env?: NodeJS.ProcessEnv): { url: string; reason?: undefined } | { url?: undefined; reason: string };
/** The subcommands built as bundles (scripts/build-bundles.mjs). */
export declare const BUNDLED_COMMANDS: readonly string[];
/** The bundle that runs the command line `args` in a current build at `root`, or undefined (FEDTUNE_BUNDLE=0, another subcommand, no bundle). */
export declare function bundleFor(root: string, args: readonly string[], env?: NodeJS.ProcessEnv): string | undefined;
