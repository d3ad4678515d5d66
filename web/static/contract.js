// The model contract in JavaScript (gantool.runtime.contract): read from an ONNX file's metadata,
// or from its graph; the digit code; float outputs to uint8 pixels.

import { GantoolError } from "./random.js";

export const METADATA_KEY = "gantool.contract";
// A file without a gantool contract is assumed to end in tanh (runtime.contract.ASSUMED_VALUE_RANGE).
const ASSUMED_VALUE_RANGE = [-1, 1];
const MAX_METADATA_BYTES = 1_000_000;

export function firstLine(error) {
  const text = String(error?.message ?? error ?? "").trim();
  return text ? text.split("\n")[0].slice(0, 200) : error?.name ?? "unknown error";
}

/**
 * The metadata_props of an ONNX file: {key: value}. Reads ModelProto's top-level fields
 * (protobuf wire format) and skips everything else, the graph included.
 */
export function onnxMetadata(bytes) {
  const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const text = new TextDecoder("utf-8", { fatal: false });
  let pos = 0;
  const malformed = () => new GantoolError("the file is not an ONNX model (its protobuf encoding is malformed)");
  const varint = (end) => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= end || scale > 2 ** 49) throw malformed();
      const byte = data[pos++];
      value += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) return value;
      scale *= 128;
    }
  };
  const skip = (wire, end) => {
    if (wire === 0) varint(end);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint(end);  // read before pos is: varint moves it
      pos += length;
    }
    else throw malformed();
    if (pos > end) throw malformed();
  };
  const props = {};
  while (pos < data.length) {
    const key = varint(data.length);
    const [field, wire] = [Math.floor(key / 8), key % 8];
    if (field !== 14 || wire !== 2) {
      skip(wire, data.length);
      continue;
    }
    // metadata_props (field 14): StringStringEntryProto {key = 1, value = 2}.
    const length = varint(data.length);
    const end = pos + length;
    if (end > data.length) throw malformed();
    const entry = {};
    while (pos < end) {
      const inner = varint(end);
      if (inner % 8 === 2 && (inner >> 3 === 1 || inner >> 3 === 2)) {
        const length = varint(end);
        if (pos + length > end) throw malformed();
        entry[inner >> 3 === 1 ? "key" : "value"] = text.decode(data.subarray(pos, pos + length));
        pos += length;
      } else {
        skip(inner % 8, end);
      }
    }
    if (entry.key !== undefined) props[entry.key] = entry.value ?? "";
  }
  return props;
}

/** What a generator takes and gives (gantool.runtime.contract.ModelContract, same field names). */
export class ModelContract {
  constructor(data) {
    if (!data || typeof data !== "object" || Array.isArray(data)) {
      throw new GantoolError("the model contract must be a JSON object");
    }
    const shape = data.output_shape ?? data.image_shape;
    Object.assign(this, {
      value_range: ASSUMED_VALUE_RANGE, arch: "dcgan", input_name: "z", output_name: "image", quantization: "none",
      output_kind: "image", num_classes: 0, label_name: "label", digit_code: 0, class_names: [], dataset: "mnist",
    }, data, { output_shape: shape });
    const positiveInt = (v) => Number.isInteger(v) && v > 0;
    if (!positiveInt(this.latent_dim)) {
      throw new GantoolError(`latent_dim must be a positive integer, got ${JSON.stringify(this.latent_dim)}`);
    }
    const ranks = { image: 3, points: 1 };
    if (!(this.output_kind in ranks)) {
      throw new GantoolError(`output_kind must be one of image, points, got ${JSON.stringify(this.output_kind)}`);
    }
    if (!Array.isArray(shape) || shape.length !== ranks[this.output_kind] || !shape.every(positiveInt)) {
      throw new GantoolError(`output_shape of an ${this.output_kind} model must have ${ranks[this.output_kind]} `
                             + `positive dimensions, got ${JSON.stringify(shape)}`);
    }
    if (!Number.isInteger(this.num_classes) || this.num_classes < 0) {
      throw new GantoolError(`num_classes must be a non-negative integer, got ${JSON.stringify(this.num_classes)}`);
    }
    if (!Number.isInteger(this.digit_code) || this.digit_code < 0 || this.digit_code > this.latent_dim
        || (this.digit_code && this.num_classes)) {
      throw new GantoolError(`digit_code must be 0 or, for an unconditional generator, a count of latent components `
                             + `up to latent_dim ${this.latent_dim}; got ${JSON.stringify(this.digit_code)}`);
    }
    const names = this.class_names;
    if (!Array.isArray(names) || !names.every((n) => typeof n === "string" && n) || new Set(names).size !== names.length) {
      throw new GantoolError(`class_names must be distinct non-empty strings, got ${JSON.stringify(names)}`);
    }
    if (names.length && names.length !== (this.num_classes || this.digit_code)) {
      throw new GantoolError(`class_names names ${names.length} classes but the model has ${this.num_classes || this.digit_code}`);
    }
    const [low, high] = (this.value_range ?? []).map(Number);
    if (!(low < high)) {
      throw new GantoolError(`value_range must be (low, high) with low < high, got ${JSON.stringify(this.value_range)}`);
    }
    this.value_range = [low, high];
  }

  static fromJson(text) {
    if (text.length > MAX_METADATA_BYTES) {
      throw new GantoolError(`the model contract is larger than ${MAX_METADATA_BYTES} bytes; refusing to parse it`);
    }
    let data;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw new GantoolError(`the model contract is not valid JSON (${firstLine(error)})`);
    }
    return new ModelContract(data);
  }

  get conditional() {
    return this.num_classes > 0;
  }

  get isImage() {
    return this.output_kind === "image";
  }

  /** True when the model can be asked for a named digit: a label input, or a latent that names it. */
  get drawsNamedDigits() {
    return this.isImage && (this.conditional || this.digit_code > 0);
  }

  /** The digits a `digit` may name (contract.num_classes or digit_code). */
  get digitCount() {
    return this.num_classes || this.digit_code || 10;
  }

  /** True when a class index is the digit drawn: no class names, or "0", "1", ... (ModelContract.classes_are_digits). */
  get classesAreDigits() {
    return this.class_names.every((name, i) => name === String(i));
  }

  /** True for a model of MNIST's shape, 28x28x1 (ModelContract.draws_digits). */
  get drawsDigits() {
    const [height, width, channels] = this.output_shape;
    return this.isImage && height === 28 && width === 28 && channels === 1;
  }

  /** True for a model of digits: 28x28x1, classes that are digits (ModelContract.is_digit_model). */
  get isDigitModel() {
    return this.drawsDigits && this.classesAreDigits && (this.class_names.length > 0 || this.dataset === "mnist");
  }

  /** How to name class `label` to a person: its name, or the digit (ModelContract.class_word). */
  classWord(label) {
    return this.class_names.length ? this.class_names[label] : String(label);
  }

  /**
   * The class index `label` names (gantool.runtime.sampling.resolve_label): one of class_names,
   * or, for a model whose classes have no names, the index written as a number.
   */
  labelIndex(label) {
    const text = String(label).trim();
    if (this.class_names.length) {
      const index = this.class_names.indexOf(text);
      if (index < 0) {
        throw new GantoolError(`\`label\` "${text}" is not a class of this model; its classes: ${this.class_names.join(", ")}`);
      }
      return index;
    }
    if (!(this.num_classes || this.digit_code || this.drawsDigits)) throw new GantoolError("this model draws no classes; drop `label`");
    if (!/^[0-9]+$/.test(text)) {
      throw new GantoolError(`\`label\` "${text}": this model's classes have no names, they are the digits `
                             + `0..${this.digitCount - 1}; pass one of them`);
    }
    return Number(text);
  }
}

/**
 * The contract of a file without gantool metadata, read from its graph as
 * gantool.runtime.contract.contract_from_graph does: one float32 input (batch, latent_dim),
 * one float32 output (batch, height, width[, channels]); the value range is assumed.
 * Returns [contract, addChannelAxis].
 */
export function contractFromGraph(session, name) {
  const inputs = session.inputMetadata ?? [];
  const outputs = session.outputMetadata ?? [];
  const fixed = (dims) => dims.every((d) => Number.isInteger(d) && d > 0);
  const ok = inputs.length === 1 && outputs.length === 1 && inputs[0].type === "float32"
    && outputs[0].type === "float32" && inputs[0].shape?.length === 2 && [3, 4].includes(outputs[0].shape?.length)
    && fixed(inputs[0].shape.slice(1)) && fixed(outputs[0].shape.slice(1));
  if (!ok) {
    const describe = (t) => `${t.name} (${(t.shape ?? []).map((d) => (Number.isInteger(d) ? d : "?")).join(", ")}) ${t.type}`;
    throw new GantoolError(`${name} has no gantool contract in its metadata and its graph (${inputs.map(describe).join(", ")} -> `
                           + `${outputs.map(describe).join(", ")}) is not a float (batch, latent_dim) -> (batch, height, `
                           + "width[, channels]) generator; export it with gantool export");
  }
  const outputShape = outputs[0].shape.slice(1);
  const contract = new ModelContract({
    latent_dim: inputs[0].shape[1], output_shape: outputShape.length === 2 ? [...outputShape, 1] : outputShape,
    value_range: ASSUMED_VALUE_RANGE, arch: "unknown", gantool_version: "unknown", input_name: inputs[0].name,
    output_name: outputs[0].name,
  });
  return [contract, outputShape.length === 2];
}

/**
 * Latents `z` (count rows of codeSize or more) with each row's first `codeSize` components
 * permuted so that their argmax is `digit` (gantool.runtime.contract.name_digit): the largest
 * swaps places with component `digit`; the first of equal maxima counts, as numpy.argmax.
 */
export function nameDigit(z, count, dim, digit, codeSize) {
  const out = Float32Array.from(z);
  for (let row = 0; row < count; row++) {
    const base = row * dim;
    let top = 0;
    for (let i = 1; i < codeSize; i++) if (out[base + i] > out[base + top]) top = i;
    [out[base + top], out[base + digit]] = [out[base + digit], out[base + top]];
  }
  return out;
}

/**
 * Float outputs in `valueRange` -> uint8 pixels, as ModelContract.to_uint8: float32
 * (x - low) * (255 / (high - low)), rounded half to even, clipped to 0..255.
 */
export function toUint8(values, valueRange) {
  const [low, high] = valueRange;
  const lowF = Math.fround(low);
  const scale = Math.fround(255 / (high - low));
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const scaled = Math.fround(Math.fround(values[i] - lowF) * scale);
    let rounded = Math.round(scaled);
    if (rounded - scaled === 0.5 && rounded % 2 !== 0) rounded -= 1;  // numpy.rint: ties to even
    out[i] = rounded < 0 ? 0 : rounded > 255 ? 255 : rounded;  // NaN -> 0
  }
  return out;
}
