"""Continuous sign language recognition (SLR) with dialogue context, after SCOPE.

Jobs (run from the repository root with /usr/bin/python3 -m train.slr.<job>):
  train   train a recogniser (context or no-context baseline) on a dataset directory
  export  export a checkpoint to an ONNX bundle (fp32 + int8) with manifest.json
  demo    train and export the small demo bundle shipped in models/demo/slr

Modules: poseio (.pose reader), features (the keypoint features the Go runtime repeats),
tokenizer (the context tokenizer), data (dataset reader), model (the network),
onnxq (int8 weight quantiser for ONNX files), toy (procedural data for tests).
"""
