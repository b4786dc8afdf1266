export * from "@tensorflow/tfjs";
export declare const node: Record<
  "decodeImage" | "decodeJpeg" | "decodePng" | "encodeJpeg" | "encodePng" | "tensorBoard" | "summaryFileWriter",
  (...args: unknown[]) => never
>;
