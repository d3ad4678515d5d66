// The page of a gantool web site: a grid of samples, a strip between two seeds, a PNG download. Its words
// fit the model: "digits" for a digit model, "images" for any other; class names in the picker when it has them.
// Every failure ends as a readable message in #error, never as an uncaught exception.

import { GantoolError, Generator, loadRuntime, nameDigit } from "./gantool.js";

const MAX_COUNT = 1024;
// Grid layout of gantool sample's PNG (gantool.runtime.images.make_grid): black padding, square-ish.
const PADDING = 2;
const $ = (id) => document.getElementById(id);
const page = { generator: null, lastGrid: null };
window.gantoolPage = page;

function showError(error) {
  const box = $("error");
  box.textContent = error instanceof GantoolError
    ? error.message
    : `Something went wrong: ${error?.message ?? String(error)}`;
  box.hidden = false;
  document.body.dataset.state = "error";
}

function showNote(text) {
  $("note").textContent = text;
  $("note").hidden = !text;
}

window.addEventListener("error", (event) => {
  event.preventDefault();
  showError(event.error ?? event.message);
});
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  showError(event.reason);
});

/** A seed typed as decimal digits, as a BigInt (any size numpy takes). */
function parseSeed(text, what = "seed") {
  const trimmed = String(text ?? "").trim();
  if (!/^[0-9]+$/.test(trimmed)) throw new GantoolError(`${what} must be a non-negative integer, got "${trimmed}"`);
  return BigInt(trimmed);
}

function parseCount(text) {
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) {
    throw new GantoolError(`count must be an integer from 1 to ${MAX_COUNT}, got "${text}"`);
  }
  return count;
}

/** Draw uint8 images [count, h, w, c] on `canvas`, `cols` to a row, as make_grid lays them out. */
function drawGrid(canvas, pixels, shape, cols) {
  const [count, height, width, channels] = shape;
  const rows = Math.ceil(count / cols);
  canvas.width = cols * (width + PADDING) + PADDING;
  canvas.height = rows * (height + PADDING) + PADDING;
  const context = canvas.getContext("2d");
  const image = context.createImageData(canvas.width, canvas.height);
  for (let i = 3; i < image.data.length; i += 4) image.data[i] = 255;
  for (let index = 0; index < count; index++) {
    const top = PADDING + Math.floor(index / cols) * (height + PADDING);
    const left = PADDING + (index % cols) * (width + PADDING);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const source = ((index * height + y) * width + x) * channels;
        const target = ((top + y) * canvas.width + left + x) * 4;
        for (let k = 0; k < 3; k++) image.data[target + k] = pixels[source + (channels === 3 ? k : 0)];
      }
    }
  }
  context.putImageData(image, 0, 0);
  const scale = Math.max(1, Math.min(4, Math.floor(880 / canvas.width)));
  canvas.style.width = `${canvas.width * scale}px`;
}

function backendText(generator) {
  const { backend, simd, threads, version } = generator.backend;
  const isolation = globalThis.crossOriginIsolated
    ? ""
    : " (single-threaded: the page is not cross-origin isolated; gantool web --serve sends the headers that allow threads)";
  return `${backend}${simd ? " · SIMD" : ""} · ${threads} thread${threads === 1 ? "" : "s"} · onnxruntime-web ${version}${isolation}`;
}

function selectedDigit() {
  const value = $("digit").value;
  return value === "" ? null : Number(value);
}

/** The URL parameter that asks for a class: `digit` (an index) for digits, `label` (a name) for named classes. */
function classParam(contract) {
  return contract.classesAreDigits ? "digit" : "label";
}

/** A class as the page names it: "digit 3", or its name ("cat"). */
function classText(contract, digit) {
  return contract.classesAreDigits ? `digit ${digit}` : contract.classWord(digit);
}

async function drawDigits() {
  const generator = page.generator;
  const contract = generator.contract;
  const seed = parseSeed($("seed").value);
  const count = parseCount($("count").value);
  const digit = selectedDigit();
  const started = performance.now();
  const { pixels, shape } = await generator.sample({ count, seed, digit });
  const milliseconds = performance.now() - started;
  drawGrid($("grid"), pixels, shape, Math.max(1, Math.ceil(Math.sqrt(count))));
  page.lastGrid = { seed, count, digit, milliseconds, pixels, shape };
  const what = digit === null ? "" : ` of ${classText(contract, digit)}`;
  $("status").textContent = `${count} samples${what}, seed ${seed}: ${milliseconds.toFixed(1)} ms · ${backendText(generator)}`;
  $("download").disabled = false;
  const url = new URL(location.href);
  url.searchParams.set("seed", String(seed));
  url.searchParams.set("count", String(count));
  url.searchParams.delete("digit");
  url.searchParams.delete("label");
  if (digit !== null) url.searchParams.set(classParam(contract), contract.classesAreDigits ? String(digit) : contract.classWord(digit));
  history.replaceState(null, "", url);
}

/** Spherical interpolation between two latent rows: keeps the norm a Gaussian latent has. */
function slerp(a, b, t) {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    normA += a[i] * a[i];
    normB += b[i] * b[i];
  }
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(normA * normB))));
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) {
    out[i] = omega < 1e-6
      ? (1 - t) * a[i] + t * b[i]
      : (Math.sin((1 - t) * omega) * a[i] + Math.sin(t * omega) * b[i]) / Math.sin(omega);
  }
  return out;
}

async function drawStrip() {
  const generator = page.generator;
  const contract = generator.contract;
  const dim = contract.latent_dim;
  const [seedA, seedB] = [parseSeed($("seed-a").value, "from seed"), parseSeed($("seed-b").value, "to seed")];
  const steps = Number($("steps").value);
  if (!Number.isInteger(steps) || steps < 2 || steps > 32) throw new GantoolError("steps must be an integer from 2 to 32");
  const digit = selectedDigit();
  let [a, b] = [generator.latents(1, seedA), generator.latents(1, seedB)];
  if (digit !== null && contract.digit_code) {
    [a, b] = [nameDigit(a, 1, dim, digit, contract.digit_code), nameDigit(b, 1, dim, digit, contract.digit_code)];
  }
  const z = new Float32Array(steps * dim);
  for (let i = 0; i < steps; i++) z.set(slerp(a, b, i / (steps - 1)), i * dim);
  const labels = contract.conditional && digit !== null ? new Int32Array(steps).fill(digit) : null;
  const started = performance.now();
  const pixels = generator.toUint8(await generator.generate(z, { labels }));
  const milliseconds = performance.now() - started;
  drawGrid($("strip"), pixels, [steps, ...contract.output_shape], steps);
  $("strip-status").textContent = `${steps} steps from seed ${seedA} to seed ${seedB} (spherical): ${milliseconds.toFixed(1)} ms`;
}

function download() {
  const grid = page.lastGrid;
  const contract = page.generator.contract;
  const name = (digit) => (contract.classesAreDigits ? `_digit${digit}` : `_${contract.classWord(digit).replace(/[^A-Za-z0-9_-]+/g, "_")}`);
  $("grid").toBlob((blob) => {
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `gantool_seed${grid.seed}_count${grid.count}${grid.digit === null ? "" : name(grid.digit)}.png`;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  }, "image/png");
}

function describeModel(generator) {
  const c = generator.contract;
  const parts = [`${generator.name}: ${c.arch}`, `latent ${c.latent_dim} → ${c.output_shape.join("×")}`,
                 `values ${c.value_range[0]}..${c.value_range[1]}`, `quantization ${c.quantization}`];
  if (c.conditional) parts.push(`conditional: ${c.num_classes} labels`);
  if (c.digit_code) parts.push(`its latent's first ${c.digit_code} components name the ${c.classesAreDigits ? "digit" : "class"}`);
  if (c.class_names.length) parts.push(`classes ${c.class_names.join(", ")}`);
  if (c.gantool_version) parts.push(`gantool ${c.gantool_version}`);
  return parts.join(" · ");
}

/** The page's words for this model: "digits" for a digit model, "images" for any other; "digit" or "class" on the picker. */
function useWords(contract) {
  const subject = contract.isDigitModel ? "digits" : "images";
  document.title = `gantool: ${subject} drawn in your browser`;
  $("title").textContent = document.title;
  for (const element of document.querySelectorAll(".subject")) element.textContent = subject;
  $("grid").setAttribute("aria-label", `grid of generated ${subject}`);
  $("strip").setAttribute("aria-label", `${subject} interpolated between two seeds`);
  $("digit-word").textContent = contract.classesAreDigits ? "digit" : "class";
}

/** Run `action` from a button: errors go to the page, the buttons wait while it runs. */
function guarded(action) {
  return async (event) => {
    event?.preventDefault();
    for (const id of ["draw", "interpolate", "download"]) $(id).disabled = true;
    try {
      $("error").hidden = true;
      await action();
    } catch (error) {
      showError(error);
    } finally {
      $("draw").disabled = $("interpolate").disabled = !page.generator;
      $("download").disabled = !page.lastGrid;
    }
  };
}

async function main() {
  const params = new URLSearchParams(location.search);
  const threads = params.has("threads") ? Number(params.get("threads")) : undefined;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 64)) {
    throw new GantoolError(`threads must be an integer from 1 to 64, got "${params.get("threads")}"`);
  }
  await loadRuntime({ threads });
  const generator = await Generator.load("model.onnx");
  page.generator = generator;
  const contract = generator.contract;
  if (!contract.isImage) {
    throw new GantoolError(`model.onnx draws ${contract.output_kind}, not images; this page shows image grids`);
  }
  $("model").textContent = describeModel(generator);
  useWords(contract);
  if (generator.contractInferred) {
    showNote("model.onnx has no gantool contract: read from its graph, values assumed in -1..1 (tanh)");
  }
  if (contract.drawsNamedDigits) {
    for (let d = 0; d < contract.digitCount; d++) $("digit").add(new Option(contract.classWord(d), String(d)));
    $("digit-label").hidden = false;
  }
  if (params.has("seed")) $("seed").value = params.get("seed");
  if (params.has("count")) $("count").value = params.get("count");
  const param = classParam(contract);
  if (params.has(param)) {
    const asked = params.get(param);
    const option = [...$("digit").options].find((o) => o.value !== "" && (param === "digit" ? o.value : o.text) === asked);
    if (contract.drawsNamedDigits && option) {
      $("digit").value = option.value;
    } else {
      const can = contract.classesAreDigits ? `draws digits 0..${contract.digitCount - 1}` : `draws ${contract.class_names.join(", ")}`;
      showNote(`${param}=${asked} ignored: this model ${contract.drawsNamedDigits ? can : "can't be asked for a class"}`);
    }
  }
  $("seed-a").value = $("seed").value;
  $("seed-b").value = String(parseSeed($("seed").value) + 1n);
  $("grid-form").addEventListener("submit", guarded(drawDigits));
  $("strip-form").addEventListener("submit", guarded(drawStrip));
  $("download").addEventListener("click", guarded(download));
  $("draw").disabled = false;
  $("interpolate").disabled = false;
  await drawDigits();
  await drawStrip();
  document.body.dataset.state = "ready";
}

page.ready = main().catch((error) => {
  showError(error);
  $("status").textContent = "";
});
