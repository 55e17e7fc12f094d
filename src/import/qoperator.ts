// QOperator → QDQ (src/import/index.ts pass "expand-qoperator"): each integer operator of onnxruntime's
// QOperator format is, by its definition, DequantizeLinear on its inputs, the float operator, and
// QuantizeLinear on its output; rewriting it so leaves one format (QDQ) for the passes that follow.
// ConvInteger and MatMulInteger are the float op on DequantizeLinear(x, 1, zero): integer-valued results that
// the Mul by s_x·s_w after them scales (onnxruntime's dynamic-quantization shape).
// Definitions: onnx/docs/Operators.md (QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger) and
// onnxruntime/docs/ContribOperators.md (com.microsoft QLinearAdd, QLinearGlobalAveragePool,
// QLinearAveragePool, QGemm).

import { DT, fail, freshName, requireConst, type Graph, type Node, type Tensor } from "./graph.js";

const MS = "com.microsoft";

/** The ops rewritten here, by domain:op. */
export const QOPERATOR_OPS = ["QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger", `${MS}:QLinearAdd`, `${MS}:QLinearGlobalAveragePool`, `${MS}:QLinearAveragePool`, `${MS}:QGemm`];

function node(n: Node, op: string, inputs: string[], outputs: string[], attrs: Node["attrs"] = {}, suffix = op): Node {
  return { name: `${n.name}/${suffix}`, op, domain: "", inputs, outputs, attrs };
}

/** The product of two scales (scalar or per-channel) as a new float constant: the accumulator step. */
function productScale(g: Graph, n: Node, a: Tensor, b: Tensor, extra = 1): string {
  const len = Math.max(a.data.length, b.data.length);
  const data = Float64Array.from({ length: len }, (_, i) => a.data[a.data.length === 1 ? 0 : i] * b.data[b.data.length === 1 ? 0 : i] * extra);
  const name = freshName(g, `${n.name}/bias_scale`);
  g.consts.set(name, { dtype: DT.DOUBLE, dims: len === 1 ? [] : [len], data });
  return name;
}

function constName(g: Graph, base: string, t: Tensor): string {
  const name = freshName(g, base);
  g.consts.set(name, t);
  return name;
}

/** Rewrites every QOperator node into DequantizeLinear → float op → QuantizeLinear. */
export function expandQOperator(g: Graph): void {
  const out: Node[] = [];
  for (const n of g.nodes) {
    const key = n.domain ? `${n.domain}:${n.op}` : n.op;
    const t = (base: string) => freshName(g, `${n.outputs[0]}/${base}`);
    const dq = (x: string, s: string, z: string, axis?: number) => {
      const y = t(`dq_${x}`);
      out.push(node(n, "DequantizeLinear", [x, s, z], [y], axis === undefined ? {} : { axis }, `dq(${x})`));
      return y;
    };
    const q = (x: string, s: string, z: string) => out.push(node(n, "QuantizeLinear", [x, s, z], [n.outputs[0]], {}, "q"));
    switch (key) {
      case "QLinearConv": {
        const [x, xs, xz, w, ws, wz, ys, yz, B] = n.inputs;
        const y = t("conv");
        const bias = B ? [dq(B, productScale(g, n, requireConst(g, n, 1, "x_scale"), requireConst(g, n, 4, "w_scale")), "", 0)] : [];
        out.push(node(n, "Conv", [dq(x, xs, xz), dq(w, ws, wz, 0), ...bias], [y], n.attrs));
        q(y, ys, yz);
        break;
      }
      case "QLinearMatMul": {
        const [a, as, az, b, bs, bz, ys, yz] = n.inputs;
        const y = t("matmul");
        out.push(node(n, "MatMul", [dq(a, as, az), dq(b, bs, bz, 1)], [y]));
        q(y, ys, yz);
        break;
      }
      case `${MS}:QGemm`: {
        const [a, as, az, b, bs, bz, C, ys, yz] = n.inputs;
        const alpha = typeof n.attrs.alpha === "number" ? n.attrs.alpha : 1;
        const transB = typeof n.attrs.transB === "number" ? n.attrs.transB : 0;
        const bias = C ? [dq(C, productScale(g, n, requireConst(g, n, 1, "A_scale"), requireConst(g, n, 4, "B_scale"), alpha), "", 0)] : [];
        const y = ys ? t("gemm") : n.outputs[0];
        out.push(node(n, "Gemm", [dq(a, as, az), dq(b, bs, bz, transB ? 0 : 1), ...bias], [y], { alpha, beta: 1, transA: n.attrs.transA ?? 0, transB }));
        if (ys) q(y, ys, yz);
        break;
      }
      case `${MS}:QLinearAdd`: {
        const [a, as, az, b, bs, bz, ys, yz] = n.inputs;
        const y = t("add");
        out.push(node(n, "Add", [dq(a, as, az), dq(b, bs, bz)], [y]));
        q(y, ys, yz);
        break;
      }
      case `${MS}:QLinearGlobalAveragePool`:
      case `${MS}:QLinearAveragePool`: {
        if (n.attrs.channels_last) fail(g, n, "channels_last 1 is not supported (NCHW only)");
        const [x, xs, xz, ys, yz] = n.inputs;
        const y = t("pool");
        out.push(node(n, n.op === "QLinearAveragePool" ? "AveragePool" : "GlobalAveragePool", [dq(x, xs, xz)], [y], n.op === "QLinearAveragePool" ? n.attrs : {}));
        q(y, ys, yz);
        break;
      }
      case "ConvInteger":
      case "MatMulInteger": {
        const [x, w, xz, wz] = n.inputs;
        const one = constName(g, `${n.name}/one`, { dtype: DT.FLOAT, dims: [], data: Float64Array.of(1) });
        const conv = n.op === "ConvInteger";
        // Per-axis weight zero points: along the output channels (Conv axis 0, MatMul's B columns, axis 1).
        out.push(node(n, conv ? "Conv" : "MatMul", [dq(x, one, xz ?? ""), dq(w, one, wz ?? "", conv ? 0 : 1)], [n.outputs[0]], conv ? n.attrs : {}));
        break;
      }
      case "DynamicQuantizeLinear":
        fail(g, n, "its scale depends on the data, which no integer-only program can hold (quantize statically: QuantizeLinear with a constant scale)");
      default:
        out.push(n);
    }
  }
  g.nodes = out;
}
