// A small ONNX model, encoded by hand (protobuf wire format), for BCE with logits and its gradient:
//
//   inputs  x: float[N] (logits), y: float[N] (targets), inv_n: float (1 / N)
//   loss = ReduceMean((1 - y) * x + Softplus(-|x|) - Min(x, 0))   (= mean of PyTorch's element loss)
//   grad = (Sigmoid(x) - y) * (1 / N)                             (d loss / d x)
//
// ONNX Runtime has no fused BCE op, so this is what a user of onnxruntime-node or -web would run.

const enc = new TextEncoder();

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

/** A protobuf field: varint (wire type 0) for numbers, length-delimited (2) for bytes/strings/messages. */
function field(num, value) {
  if (typeof value === 'number') return [...varint((num << 3) | 0), ...varint(value)];
  const bytes = typeof value === 'string' ? [...enc.encode(value)] : value;
  return [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
}

const msg = (...fields) => fields.flat();

// NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5
const node = (op, inputs, outputs, name, attrs = []) =>
  msg(...inputs.map((i) => field(1, i)), ...outputs.map((o) => field(2, o)), field(3, name), field(4, op), ...attrs.map((a) => field(5, a)));
// AttributeProto: name = 1, i = 3, type = 20 (INT = 2)
const intAttr = (name, i) => msg(field(1, name), field(3, i), field(20, 2));
// TensorProto (a float scalar): data_type = 2 (FLOAT = 1), float_data = 4 (packed), name = 8
function scalar(name, value) {
  const f = new Float32Array([value]);
  return msg(field(2, 1), field(4, [...new Uint8Array(f.buffer)]), field(8, name));
}
// ValueInfoProto: name = 1, type = 2 -> TypeProto.tensor_type = 1 -> elem_type = 1, shape = 2
// TensorShapeProto.dim = 1 -> Dimension.dim_param = 2
function tensorInfo(name, dims) {
  const shape = msg(...dims.map((d) => field(1, field(2, d))));
  return msg(field(1, name), field(2, field(1, msg(field(1, 1), field(2, shape)))));
}

/** The model's bytes. */
export function bceWithLogitsModel() {
  const nodes = [
    node('Abs', ['x'], ['abs_x'], 'abs'),
    node('Neg', ['abs_x'], ['neg_abs_x'], 'neg'),
    node('Softplus', ['neg_abs_x'], ['softplus'], 'softplus'),
    node('Min', ['x', 'zero'], ['min_x0'], 'min'),
    node('Sub', ['one', 'y'], ['one_minus_y'], 'one_minus_y'),
    node('Mul', ['one_minus_y', 'x'], ['t1'], 't1'),
    node('Add', ['t1', 'softplus'], ['t2'], 't2'),
    node('Sub', ['t2', 'min_x0'], ['elem'], 'elem'),
    node('ReduceMean', ['elem'], ['loss'], 'mean', [intAttr('keepdims', 0)]),
    node('Sigmoid', ['x'], ['s'], 'sigmoid'),
    node('Sub', ['s', 'y'], ['s_minus_y'], 's_minus_y'),
    node('Mul', ['s_minus_y', 'inv_n'], ['grad'], 'grad'),
  ];
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12
  const graph = msg(
    ...nodes.map((nd) => field(1, nd)),
    field(2, 'bce_with_logits'),
    field(5, scalar('zero', 0)),
    field(5, scalar('one', 1)),
    field(11, tensorInfo('x', ['N'])),
    field(11, tensorInfo('y', ['N'])),
    field(11, tensorInfo('inv_n', [])),
    field(12, tensorInfo('loss', [])),
    field(12, tensorInfo('grad', ['N'])),
  );
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 (version = 2)
  return new Uint8Array(msg(field(1, 8), field(2, 'bce-wasm bench'), field(7, graph), field(8, field(2, 17))));
}
