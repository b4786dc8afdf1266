export * from './register-wasm-training-kernels.ts';
export * from './kernel-configs.ts';
export * from './conv-bias-relu.ts';
export * from './fused-forward.ts';
