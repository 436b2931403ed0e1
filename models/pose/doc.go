// Package pose finds a signer's keypoints: MediaPipe Holistic's graph re-created in Go on
// ONNX Runtime, giving one Frame of 543 points per video frame (33 pose, 468 face, 21 per
// hand, in that order, as package poseformat lays them out).
//
// A frame goes through the same stages as in MediaPipe:
//
//  1. Pose detection (pose_detection, BlazePose's SSD detector) on the letterboxed frame:
//     anchors, box decoding, weighted non-maximum suppression. It runs only when there is
//     no pose to follow: each frame's pose landmarks place the next frame's crop.
//  2. Pose landmarks (pose_landmark_lite/full/heavy, MediaPipe's modelComplexity 0/1/2) on
//     the rotated crop around the body: 33 points with visibility, refined by the model's
//     heatmap, smoothed with MediaPipe's One-Euro settings.
//  3. Hands: a crop from the pose's wrist, index and pinky points, refined by hand_recrop,
//     or, while the previous frame's hand stays close to that, a crop around the previous
//     hand's palm (wrist and the fingers' two lower joints, turned along wrist -> middle
//     knuckle); then hand_landmark_full (or lite): 21 points. Which hand is which comes
//     from the pose (Holistic's rule).
//  4. Face: BlazeFace (face_detection_short_range) in the box of the pose's face points,
//     or the previous frame's face while it stays close; then face_landmark: 468 points.
//  5. Scale: the distance between the eye centres (centroids of each eye's contour in
//     the face mesh), or the shoulder width when there is no face; Frame.ScaleFrom says
//     which. The recogniser normalises its own features from the points.
//
// Frames enter as gocv.Mat (BGR) with their presentation time, through Process (one at a
// time; the face and both hands run side by side) or Stream (a channel; the next frame's
// pose and face run beside this frame's hands, so two cores stay busy). Parts not found
// are marked absent in Frame.Present and left at zero. Crops are one warpAffine each,
// straight from the frame to the model's input size; every model has its tensors
// allocated once and runs on one ONNX Runtime thread. The .tflite models are converted
// to ONNX on first use (package convert).
//
// The geometry and filters follow MediaPipe's calculators (SsdAnchors,
// TensorsToDetections, NonMaxSuppression, DetectionsToRects, AlignmentPointsRects,
// RectTransformation, RoiTracking, HandDetectionsFromPoseToRects,
// RefineLandmarksFromHeatmap, LandmarksSmoothing); package refcheck holds the result
// against MediaPipe's own Holistic.
package pose
