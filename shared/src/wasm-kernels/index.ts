export * from './register-wasm-training-kernels.ts';
export * from './kernel-configs.ts';
export * from './conv-bias-relu.ts';
export * from './fused-forward.ts';
export * from './wasm-backend-factory.ts';
export * from './drop-process-handlers-added-by.ts';
