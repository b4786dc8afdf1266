export declare const FEDTUNE_NODE_FLAGS: string[];
