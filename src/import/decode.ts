// ONNX bytes → the importer's graph (./graph.ts), with `onnx-proto` (protobufjs code generated from the
// official onnx.proto; docs/DECISIONS.md "ONNX decoding"). Every failure is one ImportError line: a file that
// is not a protobuf ModelProto, a graph without exactly one data input and one output, tensors in external
// files or of types this tool has no use for.

import onnxProto from "onnx-proto";
import { DT, ImportError, count, dtypeName, type Attr, type Graph, type GraphInput, type Node, type Tensor } from "./graph.js";

const { onnx } = onnxProto;
type TensorProto = InstanceType<typeof onnx.TensorProto>;
type AttributeProto = InstanceType<typeof onnx.AttributeProto>;

/** A protobuf int64 (number or Long) as a safe integer, or NaN when it is not one. */
function int64(v: unknown): number {
  if (typeof v === "number") return v;
  if (v && typeof v === "object" && "toNumber" in v) {
    const n = (v as { toNumber(): number }).toNumber();
    return Number.isSafeInteger(n) ? n : NaN;
  }
  return Number(v ?? 0);
}

/** IEEE 754 binary16 bits → number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Decodes a TensorProto's values (raw_data or the typed fields) into exact float64 values. */
export function decodeTensor(t: TensorProto, file: string, what: string): Tensor {
  const dims = (t.dims ?? []).map(int64);
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new ImportError(`${file}: ${what}: dims [${dims.join(", ")}] are not sizes`);
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) throw new ImportError(`${file}: ${what}: stored in an external data file, which is not supported (save the model with its tensors inside)`);
  const n = count(dims);
  if (n > 1 << 28) throw new ImportError(`${file}: ${what}: ${n} elements is more than this tool handles`);
  const dtype = t.dataType;
  const out = new Float64Array(n);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const short = (have: number) => new ImportError(`${file}: ${what}: expected ${n} ${dtypeName(dtype)} values, found ${have} (truncated tensor)`);
  if (raw) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const size: Record<number, number> = { [DT.FLOAT]: 4, [DT.DOUBLE]: 8, [DT.FLOAT16]: 2, [DT.INT8]: 1, [DT.UINT8]: 1, [DT.BOOL]: 1, [DT.INT16]: 2, [DT.UINT16]: 2, [DT.INT32]: 4, [DT.UINT32]: 4, [DT.INT64]: 8 };
    if (dtype === DT.INT4 || dtype === DT.UINT4) {
      // Two values per byte, the first in the low nibble (ONNX 1.16, "4 bit integer types").
      if (raw.length < Math.ceil(n / 2)) throw short(raw.length * 2);
      for (let i = 0; i < n; i++) {
        const v = (raw[i >> 1] >> ((i & 1) * 4)) & 15;
        out[i] = dtype === DT.INT4 && v >= 8 ? v - 16 : v;
      }
      return { dtype, dims, data: out };
    }
    const sz = size[dtype];
    if (sz === undefined) throw new ImportError(`${file}: ${what}: element type ${dtypeName(dtype)} is not supported`);
    if (raw.length < n * sz) throw short(Math.floor(raw.length / sz));
    for (let i = 0; i < n; i++) {
      const o = i * sz;
      switch (dtype) {
        case DT.FLOAT: out[i] = dv.getFloat32(o, true); break;
        case DT.DOUBLE: out[i] = dv.getFloat64(o, true); break;
        case DT.FLOAT16: out[i] = half(dv.getUint16(o, true)); break;
        case DT.INT8: out[i] = dv.getInt8(o); break;
        case DT.UINT8: case DT.BOOL: out[i] = dv.getUint8(o); break;
        case DT.INT16: out[i] = dv.getInt16(o, true); break;
        case DT.UINT16: out[i] = dv.getUint16(o, true); break;
        case DT.INT32: out[i] = dv.getInt32(o, true); break;
        case DT.UINT32: out[i] = dv.getUint32(o, true); break;
        case DT.INT64: {
          const v = dv.getBigInt64(o, true);
          out[i] = v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : NaN;
        }
      }
    }
  } else {
    let src: ArrayLike<unknown>;
    switch (dtype) {
      case DT.FLOAT: src = t.floatData ?? []; break;
      case DT.DOUBLE: src = t.doubleData ?? []; break;
      case DT.INT64: src = t.int64Data ?? []; break;
      case DT.UINT32: src = t.uint64Data ?? []; break;
      case DT.INT8: case DT.UINT8: case DT.INT16: case DT.UINT16: case DT.INT32: case DT.BOOL: case DT.FLOAT16: src = t.int32Data ?? []; break;
      case DT.INT4: case DT.UINT4: {
        const packed = t.int32Data ?? [];
        if (packed.length < Math.ceil(n / 2)) throw short(packed.length * 2);
        for (let i = 0; i < n; i++) {
          const v = (int64(packed[i >> 1]) >> ((i & 1) * 4)) & 15;
          out[i] = dtype === DT.INT4 && v >= 8 ? v - 16 : v;
        }
        return { dtype, dims, data: out };
      }
      default:
        throw new ImportError(`${file}: ${what}: element type ${dtypeName(dtype)} is not supported`);
    }
    if (src.length < n) throw short(src.length);
    for (let i = 0; i < n; i++) out[i] = dtype === DT.FLOAT16 ? half(int64(src[i])) : int64(src[i]);
  }
  if (dtype === DT.INT64 && out.some((v) => Number.isNaN(v))) throw new ImportError(`${file}: ${what}: an int64 value beyond ±2^53, which no quantized model needs`);
  return { dtype, dims, data: out };
}

function attrValue(a: AttributeProto, file: string, where: string): Attr | undefined {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT: return a.f;
    case T.INT: return int64(a.i);
    case T.STRING: return new TextDecoder().decode(a.s);
    case T.TENSOR: return decodeTensor(a.t as TensorProto, file, `${where}: attribute ${a.name}`);
    case T.FLOATS: return Array.from(a.floats ?? []);
    case T.INTS: return (a.ints ?? []).map(int64);
    case T.STRINGS: return (a.strings ?? []).map((s) => new TextDecoder().decode(s));
    default:
      return undefined; // graphs, sparse tensors, type protos: no op this importer accepts uses them
  }
}

/** Decodes ONNX model bytes. `file` names the model in messages. */
export function decodeOnnx(bytes: Uint8Array, file: string): Graph {
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ImportError(`${file}: not an ONNX model (protobuf decoding failed: ${(e as Error).message.split("\n")[0]})`);
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0) throw new ImportError(`${file}: not an ONNX model (no graph with nodes; protobuf bytes of something else, or truncated)`);
  const opsets = new Map<string, number>();
  for (const o of model.opsetImport ?? []) opsets.set(o.domain === "ai.onnx" ? "" : o.domain ?? "", int64(o.version));
  if (!opsets.has("")) opsets.set("", 1);
  const consts = new Map<string, Tensor>();
  for (const t of graph.initializer ?? []) consts.set(t.name ?? "", decodeTensor(t as TensorProto, file, `initializer "${t.name}"`));
  // Exporters that keep initializers as graph inputs (Brevitas, old torch) list them among the inputs too.
  const inputs = (graph.input ?? []).filter((i) => !consts.has(i.name ?? ""));
  if (inputs.length !== 1) throw new ImportError(`${file}: expected one data input (the image), found ${inputs.length}${inputs.length ? `: ${inputs.map((i) => `"${i.name}"`).join(", ")}` : ""}`);
  const tt = inputs[0].type?.tensorType;
  if (!tt) throw new ImportError(`${file}: input "${inputs[0].name}": expected a tensor input`);
  const input: GraphInput = { name: inputs[0].name ?? "", elemType: tt.elemType ?? 0, dims: (tt.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? int64(d.dimValue) : "?")) };
  const outputs = graph.output ?? [];
  if (outputs.length !== 1) throw new ImportError(`${file}: expected one output (the logits), found ${outputs.length}`);
  const nodes: Node[] = (graph.node ?? []).map((n, k) => {
    const name = n.name ? n.name : `#${k}`;
    const attrs: Record<string, Attr> = {};
    for (const a of n.attribute ?? []) {
      const v = attrValue(a as AttributeProto, file, `node "${name}"`);
      if (v !== undefined) attrs[a.name ?? ""] = v;
    }
    return { name, op: n.opType ?? "", domain: n.domain === "ai.onnx" ? "" : n.domain ?? "", inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
  });
  const producer = [model.producerName, model.producerVersion].filter(Boolean).join(" ");
  return { file, nodes, consts, qconsts: new Map(), input, output: outputs[0].name ?? "", opsets, producer };
}
