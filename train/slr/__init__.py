"""Continuous sign language recognition (SLR) with dialogue context, after SCOPE.

Jobs (run from the repository root with /usr/bin/python3 -m train.slr.<job>):
  train      train a recogniser (context model, or --no-context baseline) on a dataset directory
  export     export a checkpoint to a bundle folder: ONNX fp32 + int8 and manifest.json
  reference  reference outputs for the Go tests (features, a tiny trained-and-exported model)

models/demo/slr/README.md has the exact commands that made the shipped demo bundle.

Modules: poseio (.pose reader), features (the keypoint features the Go runtime repeats),
tokenizer (the context tokenizer), data (dataset reader), model (the network),
onnxq (int8 weight quantiser for ONNX files), toy (procedural data for tests).
"""
