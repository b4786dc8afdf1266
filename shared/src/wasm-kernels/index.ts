export * from './register-wasm-training-kernels.ts';
export * from './kernel-configs.ts';
