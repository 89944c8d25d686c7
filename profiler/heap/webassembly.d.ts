/**
 * The few parts of the WebAssembly JavaScript API that wasm-numbers.ts uses. Node has
 * the global, but its types come with the DOM lib, which the Node code's tsconfig
 * leaves out (see https://webassembly.github.io/spec/js-api/ for the full interface).
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: ArrayBufferView | ArrayBuffer);
  }
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, Memory>>);
    readonly exports: Record<string, unknown>;
  }
}
