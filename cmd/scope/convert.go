package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"scope/internal/assets"
	"scope/models/convert"
)

const convertDescription = `
Converts TensorFlow Lite models (.tflite) to ONNX models that give the same numbers under
ONNX Runtime. Inputs and outputs keep their names and NHWC layout.

  scope convert in.tflite [out.onnx]   one model (default out: in with .onnx)
  scope convert --all [DIR [OUTDIR]]   every .tflite in DIR (default: the cache's MediaPipe
                                       models) into OUTDIR (default: $SCOPE_CACHE/onnx)

An operator without an ONNX equivalent is reported as "unsupported: <op> at operator <n>".
Supported operators: %s.
`

func cmdConvert(ctx context.Context, a *app, args []string) error {
	fs := newFlags(a, "convert", "[--verbose] in.tflite [out.onnx] | --all [DIR [OUTDIR]]",
		fmt.Sprintf(convertDescription, strings.Join(convert.SupportedOperators(), ", ")))
	all := fs.Bool("all", false, "convert every .tflite file of a folder")
	verbose := fs.Bool("verbose", false, "print each model's operator histogram, inputs and outputs")
	if err := parseFlags(a, fs, args); err != nil {
		return err
	}
	rest := fs.Args()
	show := func(r convert.Report) {
		fmt.Fprintf(a.stdout, "%-36s %4d TFLite ops -> %4d ONNX nodes  %6.1f MB  %v\n",
			filepath.Base(r.Input), r.TotalOperators(), r.TotalNodes(), float64(r.Bytes)/1e6, r.Duration.Round(time.Millisecond))
		if *verbose {
			fmt.Fprintf(a.stdout, "    TFLite: %s\n    ONNX:   %s\n", convert.Histogram(r.Operators), convert.Histogram(r.ONNXNodes))
			fmt.Fprintf(a.stdout, "    inputs:  %s\n    outputs: %s\n    written: %s\n",
				strings.Join(r.Inputs, ", "), strings.Join(r.Outputs, ", "), r.Output)
		}
	}
	if *all {
		if len(rest) > 2 {
			return fmt.Errorf("%w: --all takes at most DIR and OUTDIR", errUsage)
		}
		in := filepath.Join(assets.CacheDir(), "mediapipe")
		out := convert.DefaultDir(assets.CacheDir())
		if len(rest) > 0 {
			in = rest[0]
		}
		if len(rest) > 1 {
			out = rest[1]
		}
		start := time.Now()
		a.log.Info("converting", "from", in, "to", out)
		reports, err := convert.Dir(ctx, in, out, convert.Options{Progress: show})
		fmt.Fprintf(a.stdout, "converted %d models in %v\n", len(reports), time.Since(start).Round(time.Millisecond))
		return err
	}
	if len(rest) < 1 || len(rest) > 2 {
		fs.Usage()
		return fmt.Errorf("%w: want in.tflite [out.onnx], or --all", errUsage)
	}
	out := strings.TrimSuffix(rest[0], filepath.Ext(rest[0])) + ".onnx"
	if len(rest) == 2 {
		out = rest[1]
	}
	r, err := convert.File(rest[0], out, convert.Options{})
	if err != nil {
		return err
	}
	show(r)
	return nil
}
