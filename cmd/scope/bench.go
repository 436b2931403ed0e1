package main

import "context"

// benchSubcommands lists `scope bench` verbs; each lives in cmd/scope/bench_<name>.go.
func benchSubcommands() []subcommand {
	return []subcommand{
		{"pose", "Holistic keypoints: frames/s and per-stage latency, lite and full, beside MediaPipe's own (`--compare`: landmark error)", benchPose},
		{"slr", "recogniser latency per segment (features, ONNX model, beam search)", benchSLR},
		{"slt", "translator first-token latency and tokens/s, Q4_0 and F16, beside llama.cpp through node-llama-cpp", benchSLT},
	}
}

func cmdBench(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, "bench", "Measure speed (frames/s, latency percentiles, tokens/s) on this machine and print what it was measured on.", benchSubcommands(), args)
}
