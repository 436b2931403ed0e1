#!/usr/bin/env node
// litert: run .tflite models with Google's LiteRT (npm @litertjs/core, WASM + XNNPACK, CPU)
// in headless Chromium and write every output tensor as raw little-endian bytes.
//
//   node tools/mpref/litert.mjs [-v] request.json
//
// The request (paths relative to the request file) lists models, each with runs:
//   {"models": [{"model": "pose_landmark_lite.tflite",
//                "runs": [{"inputs": [{"file": "in0.bin", "dtype": "float32", "shape": [1,256,256,3]}],
//                          "out_dir": "run0"}]}]}
// A single-model request {"model": ..., "runs": [...]} works too. A run may give
// "random_seed": n instead of "inputs": the page then fills every declared input with
// seeded random values and writes them to out_dir as in_<i>.bin. Each run's out_dir gets
// out_<i>.bin per output and outputs.json; stdout gets a summary of the whole request.
// See README.md.

import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError, main, pageMessage, readJSON, requirePackage, resolveFrom, withBrowser, here } from './lib.mjs';

const elemSize = { float32: 4, int32: 4, uint8: 1 };

function parseRequest(req, base) {
  const models = Array.isArray(req.models) ? req.models : (req.model ? [req] : null);
  if (!models || models.length === 0) throw new UsageError('request: want "models": [{"model": ..., "runs": [...]}] or "model" and "runs"');
  return models.map((m, mi) => {
    const at = `models[${mi}]`;
    const model = resolveFrom(base, m.model, `${at}.model`);
    try {
      if (!statSync(model).isFile()) throw new Error('not a file');
    } catch (err) {
      throw new UsageError(`${at}.model: ${model}: ${err.message}`);
    }
    if (!Array.isArray(m.runs) || m.runs.length === 0) throw new UsageError(`${at}.runs: want at least one run`);
    const runs = m.runs.map((r, ri) => {
      const rat = `${at}.runs[${ri}]`;
      const outDir = resolveFrom(base, r.out_dir, `${rat}.out_dir`);
      if (r.random_seed !== undefined) {
        if (r.inputs !== undefined) throw new UsageError(`${rat}: give either "inputs" or "random_seed", not both`);
        if (!Number.isInteger(r.random_seed) || r.random_seed < 0 || r.random_seed > 0xffffffff) {
          throw new UsageError(`${rat}.random_seed: want an integer in [0, 2^32), got ${JSON.stringify(r.random_seed)}`);
        }
        return { randomSeed: r.random_seed, inputs: [], outDir };
      }
      if (!Array.isArray(r.inputs)) throw new UsageError(`${rat}.inputs: want a list of {file, dtype, shape}, or "random_seed"`);
      const inputs = r.inputs.map((inp, ii) => {
        const iat = `${rat}.inputs[${ii}]`;
        const file = resolveFrom(base, inp.file, `${iat}.file`);
        if (!(inp.dtype in elemSize)) {
          throw new UsageError(`${iat}.dtype: ${JSON.stringify(inp.dtype)} is not one LiteRT.js takes (float32, int32, uint8)`);
        }
        if (!Array.isArray(inp.shape) || !inp.shape.every((d) => Number.isInteger(d) && d > 0)) {
          throw new UsageError(`${iat}.shape: want a list of positive integers, got ${JSON.stringify(inp.shape)}`);
        }
        const want = inp.shape.reduce((a, b) => a * b, 1) * elemSize[inp.dtype];
        let size;
        try {
          size = statSync(file).size;
        } catch (err) {
          throw new UsageError(`${iat}.file: ${err.message}`);
        }
        if (size !== want) {
          throw new UsageError(`${iat}.file: ${file} has ${size} bytes, ${inp.dtype}${JSON.stringify(inp.shape)} needs ${want}`);
        }
        return { file, dtype: inp.dtype, shape: inp.shape };
      });
      return { inputs, outDir };
    });
    return { model, runs };
  });
}

main(async () => {
  const args = process.argv.slice(2);
  const verbose = args[0] === '-v';
  if (verbose) args.shift();
  if (args.length !== 1) throw new UsageError('usage: node tools/mpref/litert.mjs [-v] request.json');
  const reqFile = path.resolve(args[0]);
  const models = parseRequest(await readJSON(reqFile, 'request'), path.dirname(reqFile));
  const coreDir = requirePackage('@litertjs/core');
  const utilsDir = requirePackage('@litertjs/wasm-utils');

  let jobs;
  const summary = await withBrowser({
    pagePath: '/web/litert.html',
    readyExpr: 'window.mprefReady === true',
    verbose,
    setup(server) {
      server.mount('/pkg/litert-core/', coreDir);
      server.mount('/pkg/litert-wasm-utils/', utilsDir);
      server.mount('/web/', path.join(here, 'web'));
      jobs = models.map((m) => ({
        modelUrl: server.file(m.model),
        runs: m.runs.map((r) => {
          mkdirSync(r.outDir, { recursive: true });
          return {
            inputs: r.inputs.map((inp) => ({ url: server.file(inp.file), dtype: inp.dtype, shape: inp.shape })),
            randomSeed: r.randomSeed,
            outUrl: server.sink(r.outDir),
          };
        }),
      }));
    },
  }, async (page) => {
    const loadMs = await page.evaluate('window.mpref.loadMs');
    const results = [];
    for (const [mi, m] of models.entries()) {
      let res;
      try {
        res = await page.evaluate((job) => window.mpref.runModel(job), jobs[mi]);
      } catch (err) {
        throw new Error(`${m.model}: ${pageMessage(err)}`);
      }
      for (const [ri, run] of res.runs.entries()) {
        const spec = m.runs[ri];
        const outputs = run.outputs.map((o, oi) => ({ ...o, file: `out_${oi}.bin` }));
        const inputs = run.inputs.map((inp, ii) => ({ ...inp, file: spec.randomSeed === undefined ? spec.inputs[ii].file : `in_${ii}.bin` }));
        writeFileSync(path.join(spec.outDir, 'outputs.json'), JSON.stringify({
          model: m.model,
          runtime: 'LiteRT.js @litertjs/core 2.5.3, wasm (XNNPACK, single thread)',
          run_ms: run.runMs,
          ...(spec.randomSeed === undefined ? {} : { random_seed: spec.randomSeed }),
          inputs,
          outputs,
        }, null, 1) + '\n');
      }
      results.push({
        model: m.model,
        compile_ms: res.compileMs,
        inputs: res.inputs,
        outputs: res.outputs,
        runs: res.runs.map((r, ri) => ({ out_dir: m.runs[ri].outDir, run_ms: r.runMs })),
      });
    }
    return { load_ms: loadMs, models: results };
  });
  process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
});
