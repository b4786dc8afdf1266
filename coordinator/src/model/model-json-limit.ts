/** Largest model.json read: the topology and manifest of a real model are kilobytes (the weights are in weights.bin). */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
