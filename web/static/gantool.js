// gantool.js: sample a gantool generator in the browser with onnxruntime-web.
//
// The API mirrors Python's gantool.runtime, so the same model, seed and count give the same
// digits in both:
//
//   import { Generator, latents } from "./gantool.js";
//   const generator = await Generator.load("model.onnx");
//   const { pixels, shape } = await generator.sample({ count: 64, seed: 0 });  // Uint8Array, [64, 28, 28, 1]
//   const z = latents(16, generator.contract.latent_dim, 3);  // == numpy default_rng(3).standard_normal((16, 100), float32)
//
// The contract (latent size, value range, digit code, label input) is read from the ONNX file's
// metadata, as gantool.runtime reads it; a file without one is read from its graph.

import { METADATA_KEY, ModelContract, contractFromGraph, firstLine, nameDigit, onnxMetadata, toUint8 } from "./contract.js";
import { GantoolError, checkSeed, latents } from "./random.js";

export { METADATA_KEY, ModelContract, contractFromGraph, nameDigit, onnxMetadata, toUint8 } from "./contract.js";
export { GantoolError, PCG64, checkSeed, generateState, latents, seedWords, standardNormalF32 } from "./random.js";

// Images per onnxruntime run (gantool.runtime.generator.DEFAULT_BATCH).
export const DEFAULT_BATCH = 256;
export const MAX_IN_MEMORY_COUNT = 1_000_000;

function checkCount(count) {
  if (!Number.isSafeInteger(count) || count <= 0) {
    throw new GantoolError(`\`count\` must be a positive integer, got ${String(count)}`);
  }
  if (count > MAX_IN_MEMORY_COUNT) {
    throw new GantoolError(`\`count\` ${count} exceeds ${MAX_IN_MEMORY_COUNT} images in memory`);
  }
}

// onnxruntime-web's WebAssembly build: its module, the Emscripten glue, the binary (gantool/web/ort.py).
const ORT_FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];
let runtime = null;

/**
 * Load onnxruntime-web once per page, as the site's ort.json says: its files from `base` (the
 * pinned version on jsDelivr, or the site's own ort/ folder), each fetched with its subresource
 * integrity, so the browser refuses bytes that differ from the ones pinned.
 *
 * Options: config (URL of ort.json; default: beside gantool.js), threads (WebAssembly threads;
 * default: onnxruntime-web's choice, one without cross-origin isolation). A page has one
 * onnxruntime-web: the first call's options hold for every later one.
 */
export function loadRuntime(options = {}) {
  runtime ??= (async () => {
    const configUrl = new URL(options.config ?? "./ort.json", import.meta.url);
    const response = await fetch(configUrl);
    if (!response.ok) throw new GantoolError(`cannot read ${configUrl} (HTTP ${response.status}); rebuild the site with gantool web`);
    const config = await response.json();
    const base = new URL(config.base, configUrl);
    const fetchChecked = async (name) => {
      const url = new URL(name, base);
      if (!config.files?.[name]) throw new GantoolError(`${configUrl} gives no integrity for ${name}; rebuild the site with gantool web`);
      let reply;
      try {
        reply = await fetch(url, { integrity: config.files[name], mode: "cors", credentials: "omit" });
      } catch (error) {
        throw new GantoolError(`cannot load onnxruntime-web ${config.version} from ${url} (${firstLine(error)}): offline, `
                               + "blocked, or its bytes differ from the pinned ones; build the site with gantool web --ort to serve it locally");
      }
      if (!reply.ok) throw new GantoolError(`cannot load ${url} (HTTP ${reply.status})`);
      return reply;
    };
    const [main, glue, binary] = await Promise.all(ORT_FILES.map(fetchChecked));
    // Verified bytes become same-origin blob URLs: the module, and the glue its worker threads start from.
    const blobUrl = async (reply) => URL.createObjectURL(new Blob([await reply.text()], { type: "text/javascript" }));
    const ort = await import(await blobUrl(main));
    ort.env.wasm.wasmPaths = { mjs: await blobUrl(glue) };
    ort.env.wasm.wasmBinary = new Uint8Array(await binary.arrayBuffer());
    if (options.threads) ort.env.wasm.numThreads = options.threads;
    ort.env.logLevel = "error";
    return ort;
  })();
  runtime.catch(() => { runtime = null; });
  return runtime;
}

function simdSupported() {
  // The smallest module using a v128 instruction (i8x16.splat); onnxruntime-web 1.30 needs SIMD.
  const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0,
                                253, 15, 253, 98, 11]);
  return typeof WebAssembly !== "undefined" && WebAssembly.validate(probe);
}

/** An exported generator ready to sample (gantool.runtime.Generator). */
export class Generator {
  constructor(session, contract, { ort, name, addChannelAxis = false, contractInferred = false }) {
    this.session = session;
    this.contract = contract;
    this.ort = ort;
    this.name = name;
    this.addChannelAxis = addChannelAxis;
    this.contractInferred = contractInferred;
  }

  /**
   * Open a gantool .onnx file: a URL (fetched) or its bytes.
   * Options: ort (an onnxruntime-web module; default: loadRuntime()), threads, config (see loadRuntime).
   */
  static async load(source, options = {}) {
    const ort = options.ort ?? await loadRuntime(options);
    const name = typeof source === "string" || source instanceof URL ? String(source) : "the model";
    let bytes = source;
    if (typeof source === "string" || source instanceof URL) {
      let response;
      try {
        response = await fetch(source);
      } catch (error) {
        throw new GantoolError(`cannot fetch the model ${name} (${firstLine(error)})`);
      }
      if (!response.ok) throw new GantoolError(`cannot fetch the model ${name} (HTTP ${response.status})`);
      bytes = await response.arrayBuffer();
    }
    bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    if (bytes.length === 0) throw new GantoolError(`the model ${name} is empty; export it again with gantool export`);
    let metadata;
    try {
      metadata = onnxMetadata(bytes);
    } catch (error) {
      throw new GantoolError(`${name} is not a loadable ONNX model (${firstLine(error)})`);
    }
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    } catch (error) {
      throw new GantoolError(`${name} is not a loadable ONNX model (${firstLine(error)})`);
    }
    try {
      if (!(METADATA_KEY in metadata)) {
        const [contract, addChannelAxis] = contractFromGraph(session, name);
        return new Generator(session, contract, { ort, name, addChannelAxis, contractInferred: true });
      }
      const contract = ModelContract.fromJson(metadata[METADATA_KEY]);
      const wanted = [contract.input_name, ...(contract.conditional ? [contract.label_name] : [])].sort();
      const inputs = [...session.inputNames].sort();
      if (wanted.join("\n") !== inputs.join("\n")) {
        throw new GantoolError(`${name}: contract names inputs ${wanted.join(", ")}, graph has ${inputs.join(", ")}`);
      }
      if (!session.outputNames.includes(contract.output_name)) {
        throw new GantoolError(`${name}: contract names output ${contract.output_name}, graph has ${session.outputNames.join(", ")}`);
      }
      return new Generator(session, contract, { ort, name });
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /** The engine in use: {backend: "wasm", simd, threads, version}. */
  get backend() {
    return { backend: "wasm", simd: simdSupported(), threads: this.ort.env.wasm.numThreads ?? 1,
             version: this.ort.env.versions?.web ?? "unknown" };
  }

  /** The latent batch of the convention for `count` and `seed` (Float32Array, count rows). */
  latents(count, seed = 0) {
    return latents(count, this.contract.latent_dim, seed);
  }

  /**
   * Run latents `z` (count rows) through the model in batches: float outputs in the contract's
   * range, row-major [count, ...output_shape]. A conditional model takes `labels` (Int32Array,
   * one per row; default: the convention 0, 1, ..., num_classes - 1, 0, ...).
   */
  async generate(z, { labels = null, batchSize = DEFAULT_BATCH } = {}) {
    const { latent_dim: dim, output_shape: shape } = this.contract;
    if (!(z instanceof Float32Array) || z.length === 0 || z.length % dim !== 0) {
      throw new GantoolError(`latents must be a Float32Array of count rows of ${dim}`);
    }
    const count = z.length / dim;
    labels = this.checkLabels(labels, count);
    const size = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(count * size);
    for (let start = 0; start < count; start += batchSize) {
      const rows = Math.min(batchSize, count - start);
      const feeds = { [this.contract.input_name]: new this.ort.Tensor("float32", z.slice(start * dim, (start + rows) * dim), [rows, dim]) };
      if (labels) feeds[this.contract.label_name] = new this.ort.Tensor("int32", labels.slice(start, start + rows), [rows]);
      const results = await this.session.run(feeds);
      const output = results[this.contract.output_name];
      if (output.data.length !== rows * size) {
        throw new GantoolError(`${this.name} gave ${output.dims.join("x")} for ${rows} latents, not ${rows} of ${shape.join("x")}`);
      }
      out.set(output.data, start * size);
      for (const tensor of Object.values(results)) tensor.dispose?.();
    }
    return out;
  }

  checkLabels(labels, count) {
    const { conditional, num_classes: classes } = this.contract;
    if (!conditional) {
      if (labels) throw new GantoolError(`${this.name} is unconditional; it takes no digit labels`);
      return null;
    }
    if (!labels) return Int32Array.from({ length: count }, (_, i) => i % classes);
    if (labels.length !== count || ![...labels].every((l) => Number.isInteger(l) && l >= 0 && l < classes)) {
      throw new GantoolError(`labels must be ${count} integers in 0..${classes - 1}`);
    }
    return Int32Array.from(labels);
  }

  /** Float outputs -> uint8 pixels (ModelContract.to_uint8). */
  toUint8(values) {
    return toUint8(values, this.contract.value_range);
  }

  /**
   * `count` uint8 images for `seed`: {pixels: Uint8Array, shape: [count, height, width, channels]}.
   * `digit` asks for one digit (a class index), as gantool sample --digit does: a conditional model
   * gets it as its label, a model whose latent names its digit (contract.digit_code) gets latents set
   * to name it (nameDigit). Any other model cannot be asked (Python filters with a classifier).
   * `label` asks for a class by its name (contract.class_names), as gantool sample --label does.
   */
  async sample({ count = 64, seed = 0, digit = null, label = null } = {}) {
    checkCount(count);
    checkSeed(seed);
    const contract = this.contract;
    if (!contract.isImage) throw new GantoolError(`${this.name} draws ${contract.output_kind}, not images`);
    if (label !== null && label !== undefined) {
      if (digit !== null && digit !== undefined) throw new GantoolError("pass `label` or `digit`, not both");
      digit = contract.labelIndex(label);
    }
    let z = this.latents(count, seed);
    let labels = null;
    if (digit !== null && digit !== undefined) {
      if (!Number.isInteger(digit) || digit < 0 || digit >= contract.digitCount) {
        throw new GantoolError(`\`digit\` must be in 0..${contract.digitCount - 1}, got ${String(digit)}`);
      }
      if (contract.conditional) labels = new Int32Array(count).fill(digit);
      else if (contract.digit_code) z = nameDigit(z, count, contract.latent_dim, digit, contract.digit_code);
      else {
        throw new GantoolError(`${this.name} can't be asked for a digit: it takes no label and its latent names none `
                               + "(gantool sample --digit filters its samples with a classifier instead)");
      }
    }
    const values = await this.generate(z, { labels });
    return { pixels: this.toUint8(values), shape: [count, ...contract.output_shape] };
  }

  async release() {
    await this.session.release();
  }
}
