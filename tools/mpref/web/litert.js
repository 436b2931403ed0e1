// Runs .tflite models with LiteRT's WASM (XNNPACK) CPU path. The Node side calls
// window.mpref.runModel(job) once per model; inputs are fetched from loopback URLs and
// every output tensor is PUT back as raw little-endian bytes.
import { loadLiteRt, loadAndCompile, Tensor } from '@litertjs/core';

const arrays = {
  float32: Float32Array,
  int32: Int32Array,
  uint8: Uint8Array,
};

function details(list) {
  return list.map((d) => ({ name: d.name, index: d.index, dtype: d.dtype, shape: Array.from(d.shape) }));
}

function sameShape(a, b) {
  return a.length === b.length && a.every((v, i) => v === b[i] || b[i] === -1);
}

async function fetchBytes(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`fetching ${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

// mulberry32: a small seeded generator, so a random run is the same on every machine.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// randomInputs fills each declared input: float32 uniform in [0, 1), uint8 and int32
// uniform in [0, 255]; dynamic (-1) dimensions become 1.
function randomInputs(inputs, seed) {
  const next = rng(seed);
  return inputs.map((d) => {
    const shape = d.shape.map((v) => (v > 0 ? v : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new arrays[d.dtype](n);
    for (let i = 0; i < n; i++) data[i] = d.dtype === 'float32' ? next() : Math.floor(next() * 256);
    return { dtype: d.dtype, shape, data };
  });
}

async function put(url, data) {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  const res = await fetch(url, { method: 'PUT', body: bytes });
  if (!res.ok) throw new Error(`writing ${url}: HTTP ${res.status}`);
}

async function runModel(job) {
  const t0 = performance.now();
  const model = await loadAndCompile(job.modelUrl, { accelerator: 'wasm' });
  const compileMs = performance.now() - t0;
  const inputs = details(model.getInputDetails());
  const outputs = details(model.getOutputDetails());
  const runs = [];
  try {
    for (const [r, run] of job.runs.entries()) {
      let given = run.inputs;
      if (run.randomSeed !== undefined) {
        given = randomInputs(inputs, run.randomSeed);
        for (const [i, g] of given.entries()) await put(`${run.outUrl}in_${i}.bin`, g.data);
      }
      if (given.length !== inputs.length) {
        throw new Error(`run ${r}: ${given.length} inputs given, the model declares ${inputs.length}: ${JSON.stringify(inputs)}`);
      }
      const tensors = [];
      try {
        for (const [i, inp] of given.entries()) {
          const want = inputs[i];
          if (inp.dtype !== want.dtype || !sameShape(inp.shape, want.shape)) {
            throw new Error(`run ${r} input ${i} (${want.name}): given ${inp.dtype}${JSON.stringify(inp.shape)}, the model wants ${want.dtype}${JSON.stringify(want.shape)}`);
          }
          const Ctor = arrays[inp.dtype];
          tensors.push(new Tensor(inp.data ?? new Ctor(await fetchBytes(inp.url)), inp.shape));
        }
        const t1 = performance.now();
        const outs = await model.run(tensors);
        const runMs = performance.now() - t1;
        const written = [];
        for (const [o, out] of outs.entries()) {
          const host = out.accelerator === 'wasm' ? out : await out.moveTo('wasm');
          await put(`${run.outUrl}out_${o}.bin`, host.toTypedArray());
          written.push({
            name: outputs[o] ? outputs[o].name : `output_${o}`,
            index: outputs[o] ? outputs[o].index : o,
            dtype: host.type.dtype,
            shape: Array.from(host.type.layout.dimensions),
          });
          host.delete();
        }
        runs.push({
          runMs,
          outputs: written,
          inputs: given.map((g, i) => ({ name: inputs[i].name, index: inputs[i].index, dtype: g.dtype, shape: g.shape })),
        });
      } finally {
        for (const t of tensors) t.delete();
      }
    }
  } finally {
    model.delete();
  }
  return { compileMs, inputs, outputs, runs };
}

const t0 = performance.now();
await loadLiteRt('/pkg/litert-core/wasm/');
window.mpref = { runModel, loadMs: performance.now() - t0 };
window.mprefReady = true;
