// Package slr is SCOPE's continuous sign language recogniser at run time: it turns a
// segment of keypoint frames (MediaPipe Holistic layout, 543 points) and the dialogue so far
// into the top-k gloss sequences.
//
// Data enters as Frames (from the pose stage or a .pose file). A Segmenter cuts the live
// stream into sentences from hand motion and the rest pose. Features turns a segment into
// the model's input exactly as train/slr/features.py does in training (the spec travels in
// the bundle manifest). The Recognizer runs the bundle's ONNX model on ONNX Runtime, with
// the previous turns tokenized by the bundle's own context tokenizer, and BeamSearch (a CTC
// prefix beam search) returns []Hypothesis, best first.
package slr
