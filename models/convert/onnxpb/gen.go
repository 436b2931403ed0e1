// Package onnxpb holds the Go types of ONNX's protobuf messages (ModelProto, GraphProto,
// NodeProto, TensorProto, ...), generated from the onnx.proto that Debian's libonnx-dev
// ships at /usr/include/onnx/onnx.proto (ONNX 1.12 on Debian 12: IR version 8, opsets up to 17).
//
// To regenerate (after `apt-get install protobuf-compiler libonnx-dev` and
// `go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12`, matching go.mod):
//
//	go generate ./models/convert/onnxpb
package onnxpb

//go:generate protoc -I/usr/include/onnx --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=scope/models/convert/onnxpb onnx.proto
