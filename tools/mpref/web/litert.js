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

async function runModel(job) {
  const t0 = performance.now();
  const model = await loadAndCompile(job.modelUrl, { accelerator: 'wasm' });
  const compileMs = performance.now() - t0;
  const inputs = details(model.getInputDetails());
  const outputs = details(model.getOutputDetails());
  const runs = [];
  try {
    for (const [r, run] of job.runs.entries()) {
      if (run.inputs.length !== inputs.length) {
        throw new Error(`run ${r}: ${run.inputs.length} inputs given, the model declares ${inputs.length}: ${JSON.stringify(inputs)}`);
      }
      const tensors = [];
      try {
        for (const [i, inp] of run.inputs.entries()) {
          const want = inputs[i];
          if (inp.dtype !== want.dtype || !sameShape(inp.shape, want.shape)) {
            throw new Error(`run ${r} input ${i} (${want.name}): given ${inp.dtype}${JSON.stringify(inp.shape)}, the model wants ${want.dtype}${JSON.stringify(want.shape)}`);
          }
          const Ctor = arrays[inp.dtype];
          tensors.push(new Tensor(new Ctor(await fetchBytes(inp.url)), inp.shape));
        }
        const t1 = performance.now();
        const outs = await model.run(tensors);
        const runMs = performance.now() - t1;
        const written = [];
        for (const [o, out] of outs.entries()) {
          const host = out.accelerator === 'wasm' ? out : await out.moveTo('wasm');
          const data = host.toTypedArray();
          const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
          const res = await fetch(`${run.outUrl}out_${o}.bin`, { method: 'PUT', body: bytes });
          if (!res.ok) throw new Error(`writing output ${o}: HTTP ${res.status}`);
          written.push({
            name: outputs[o] ? outputs[o].name : `output_${o}`,
            index: outputs[o] ? outputs[o].index : o,
            dtype: host.type.dtype,
            shape: Array.from(host.type.layout.dimensions),
          });
          host.delete();
        }
        runs.push({ runMs, outputs: written });
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
