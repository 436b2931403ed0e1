// llama.cpp's own speed on a GGUF, through node-llama-cpp's prebuilt CPU binaries: the peer
// that `scope bench slt` runs beside its own binding. It decodes the given prompt tokens and
// then generates --tokens tokens greedily (end-of-sequence does not stop it, so every run does
// the same work), and prints one JSON line per run.
//
//   node bench.mjs --model M.gguf --prompt-ids 1,5,7 [--tokens 128] [--threads 1] [--runs 3] [--context 512]
import {parseArgs} from "node:util";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const {values: a} = parseArgs({options: {
    model: {type: "string"},
    "prompt-ids": {type: "string"},
    tokens: {type: "string", default: "128"},
    threads: {type: "string", default: "1"},
    runs: {type: "string", default: "3"},
    context: {type: "string", default: "512"},
}});
if (!a.model || !a["prompt-ids"]) {
    console.error("usage: node bench.mjs --model M.gguf --prompt-ids 1,5,7 [--tokens 128] [--threads 1] [--runs 3]");
    process.exit(2);
}
const prompt = a["prompt-ids"].split(",").map(Number);
const n = Number(a.tokens);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false});
const model = await llama.loadModel({modelPath: a.model});
const context = await model.createContext({contextSize: Number(a.context), batchSize: Number(a.context), threads: Number(a.threads)});
const seq = context.getSequence();
for (let run = 0; run < Number(a.runs); run++) {
    await seq.clearHistory(); // every run decodes the whole prompt, as scope's does
    const out = [];
    const start = process.hrtime.bigint();
    let first = 0n;
    for await (const tok of seq.evaluate(prompt, {temperature: 0})) {
        if (out.length === 0) first = process.hrtime.bigint();
        out.push(tok);
        if (out.length >= n) break;
    }
    const end = process.hrtime.bigint();
    const ttft = Number(first - start) / 1e6;
    const tps = (out.length - 1) / (Number(end - first) / 1e9);
    console.log(JSON.stringify({peer: "node-llama-cpp", version: "3.21.1", build: llama.buildType, cpu: llama.cpuMathCores,
        threads: Number(a.threads), prompt_tokens: prompt.length, ttft_ms: ttft, tokens: out.length, tokens_per_s: tps, ids: out}));
}
seq.dispose();
await context.dispose();
await model.dispose();
await llama.dispose();
