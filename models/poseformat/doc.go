// Package poseformat reads and writes the `.pose` binary files of the pose-format project,
// the common exchange format for keypoints in sign language research.
//
// There are only a few types: a File is a Header (format version, video dimensions, and
// Components, each a named group of points with a point format such as "XYZC") and a Body
// (frames per second and two flat float32 tensors, Data [frames][people][points][dims] and
// Confidence [frames][people][points]).
//
// Read accepts format versions 0.1 and 0.2 with any components; Write always writes 0.2, so a
// 0.2 file read and written again comes out byte for byte the same. The layout (all
// little-endian; a string is a uint16 byte count followed by UTF-8 bytes):
//
//	header: float32 version; uint16 width, height, depth; uint16 component count;
//	        per component: string name, string point format, uint16 point/limb/color counts,
//	        the point names, uint16 pairs (limbs), uint16 triples (RGB colors)
//	body:   v0.1: uint16 fps, uint16 frames (unreliable: pose-format derives the frame
//	        count from the remaining bytes, and so does Read), uint16 people
//	        v0.2: float32 fps, uint32 frames, uint16 people
//	        then float32 data, then float32 confidence
//
// The number of dimensions per point is the longest point format of any component minus
// one (the confidence letter).
//
// MediaPipe Holistic files hold POSE_LANDMARKS (33), FACE_LANDMARKS (468, or 478 with
// irises), LEFT_HAND_LANDMARKS and RIGHT_HAND_LANDMARKS (21 each) and optionally
// POSE_WORLD_LANDMARKS (33), in format "XYZC": x and y in pixels of the video, z as MediaPipe
// reports it. File.Holistic maps any such file, also reduced ones, into the fixed 543-point
// layout the rest of SCOPE uses, and NewHolistic builds a file from that layout with the
// header pose-format's MediaPipe utility writes.
//
// Bad input never panics: Read returns an error wrapping ErrTruncated, ErrVersion or
// ErrCorrupt, and counts in a header are checked against the bytes present before anything
// is allocated for them.
package poseformat

//go:generate go run ./internal/gentopology -o topology_mediapipe.go
