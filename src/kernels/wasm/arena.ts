// Linear-memory management for the WASM kernels: one bump allocator over the instance's memory, from the
// module's heap base up. Weights are allocated once (prepare); per-call scratch is allocated after a mark
// and released to it. Memory grows on demand up to a configured limit; beyond it, a WasmMemoryError
// (a clear, actionable error) instead of a failed grow or an out-of-bounds trap.

import { WasmMemoryError } from "./errors.js";

const PAGE = 65536; // bytes per WebAssembly page
/** Bytes of readable slack after every buffer: SIMD kernels may load (never store) up to 16 bytes past the end. */
export const SLACK = 16;

/** The bump allocator over one instance's linear memory. */
export class Arena {
  private top: number;

  constructor(
    readonly memory: WebAssembly.Memory,
    readonly base: number,
    /** Bytes of linear memory it may grow to (Node: configuredLimit() of ./loader.ts). */
    readonly limit: number,
  ) {
    this.top = base;
  }

  /** Current top of the allocator (a mark to release to). */
  mark(): number {
    return this.top;
  }

  /** Frees everything allocated after `mark`. */
  release(mark: number): void {
    this.top = mark;
  }

  /** Allocates `bytes` (16-byte aligned, plus SLACK readable bytes), growing memory if needed. */
  alloc(bytes: number, what: string): number {
    const p = (this.top + 15) & ~15;
    this.ensure(p + bytes + SLACK, what);
    this.top = p + bytes + SLACK;
    return p;
  }

  /** Makes [0, end) addressable, or throws WasmMemoryError when that exceeds the limit. */
  ensure(end: number, what: string): void {
    if (end > this.limit) throw new WasmMemoryError(what, end, this.limit);
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE));
    } catch {
      throw new WasmMemoryError(`${what} (the engine refused to grow memory)`, end, have);
    }
  }

  /** A byte view of all of linear memory, over the current buffer. */
  bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }
  /** An i16 view of n elements at ptr, over the current buffer. */
  i16(ptr: number, n: number): Int16Array {
    return new Int16Array(this.memory.buffer, ptr, n);
  }

  /** Copies `src` as i32 (zero-padded to `length`) into a new allocation and returns its pointer. */
  putI32(src: ArrayLike<number>, what: string, length = src.length): number {
    return this.put(Int32Array, src, what, length);
  }
  /** Copies `src` as i16 (zero-padded to `length`) into a new allocation and returns its pointer. */
  putI16(src: ArrayLike<number>, what: string, length = src.length): number {
    return this.put(Int16Array, src, what, length);
  }
  private put(T: Int32ArrayConstructor | Int16ArrayConstructor, src: ArrayLike<number>, what: string, length: number): number {
    const p = this.alloc(length * T.BYTES_PER_ELEMENT, what);
    const v = new T(this.memory.buffer, p, length);
    v.fill(0);
    v.set(src);
    return p;
  }
}

// Used by Node only (the simulator, the backend's cache, tests): functions rather than Arena methods, so that
// the edge runtime's bundle, which never calls them, drops them (docs/DECISIONS.md "Runtime budget").

/** Bytes currently in use above the heap base. */
export function usedBytes(a: Arena): number {
  return a.mark() - a.base;
}

/** An i32 view of n elements at ptr, over the current buffer. */
export function i32View(a: Arena, ptr: number, n: number): Int32Array {
  return new Int32Array(a.memory.buffer, ptr, n);
}

/** Copies bytes into a new allocation and returns its pointer. */
export function putBytes(a: Arena, src: Uint8Array, what: string): number {
  const p = a.alloc(src.length, what);
  a.bytes().set(src, p);
  return p;
}
