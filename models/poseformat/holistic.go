package poseformat

import (
	"fmt"
	"math"
	"strconv"
)

// The 543-point layout of MediaPipe Holistic used across SCOPE: pose, face, left hand,
// right hand, in that order.
const (
	NumPosePoints = 33
	NumFacePoints = 468 // the face mesh without the 10 iris points
	NumHandPoints = 21
	NumPoints     = NumPosePoints + NumFacePoints + 2*NumHandPoints // 543

	PoseOffset      = 0
	FaceOffset      = PoseOffset + NumPosePoints
	LeftHandOffset  = FaceOffset + NumFacePoints
	RightHandOffset = LeftHandOffset + NumHandPoints
)

// Parts of the 543-point layout, indexes into the present flags of Holistic.
const (
	PartPose = iota
	PartFace
	PartLeftHand
	PartRightHand
	NumParts
)

// MediaPipe component names as pose-format's holistic utility writes them.
const (
	PoseLandmarks      = "POSE_LANDMARKS"
	FaceLandmarks      = "FACE_LANDMARKS"
	LeftHandLandmarks  = "LEFT_HAND_LANDMARKS"
	RightHandLandmarks = "RIGHT_HAND_LANDMARKS"
	PoseWorldLandmarks = "POSE_WORLD_LANDMARKS"
)

// PosePointNames are MediaPipe's PoseLandmark names, in index order.
var PosePointNames = [NumPosePoints]string{
	"NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
	"RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
	"RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
	"RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
	"RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL",
	"RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
}

// HandPointNames are MediaPipe's HandLandmark names, in index order.
var HandPointNames = [NumHandPoints]string{
	"WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
	"INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
	"MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
	"RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
	"PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
}

// Face mesh points are named by their index ("0" .. "467", "468" .. "477" for irises).

// handColors are the limb colors pose-format gives hands (from its OpenPose utility): one
// shade per finger joint, the pinky overridden with oranges for accessibility.
func handColors() [][3]uint16 {
	base := [][3]int{{192, 0, 0}, {0, 0, 192}, {0, 192, 0}, {0, 192, 192}, {192, 127, 0}, {127, 127, 127}}
	out := make([][3]uint16, 0, NumHandPoints)
	for i := -1; i < NumHandPoints-1; i++ {
		// Python's floor division and modulo: i = -1 takes the last base color, shade 3.
		fi := i / 4
		if i < 0 {
			fi = len(base) - 1
		}
		shade := 35 * ((i%4 + 4) % 4)
		c := base[fi]
		out = append(out, [3]uint16{uint16(c[0] + shade), uint16(c[1] + shade), uint16(c[2] + shade)})
	}
	out[17], out[20] = [3]uint16{255, 128, 0}, [3]uint16{255, 128, 0}
	out[19] = [3]uint16{255, 153, 51}
	out[18] = [3]uint16{255, 178, 102}
	return out
}

// HolisticComponents returns the header components pose-format's MediaPipe utility writes:
// pose, face (468 points), both hands and, with world, POSE_WORLD_LANDMARKS; format "XYZC".
//
// The face limbs are MediaPipe's face-mesh tesselation as its JavaScript package lists it
// (2528 pairs); pose-format's Python build lists these plus 28 pairs more, all but one of
// them the reverse of a listed pair, so a viewer draws one line less of the mesh.
func HolisticComponents(world bool) []Component {
	pose := Component{Name: PoseLandmarks, Format: "XYZC", Points: PosePointNames[:],
		Limbs: poseConnections, Colors: [][3]uint16{{255, 0, 0}}}
	face := Component{Name: FaceLandmarks, Format: "XYZC", Points: make([]string, NumFacePoints),
		Limbs: faceTesselation, Colors: [][3]uint16{{128, 0, 0}}}
	for i := range face.Points {
		face.Points[i] = strconv.Itoa(i)
	}
	hand := func(name string) Component {
		return Component{Name: name, Format: "XYZC", Points: HandPointNames[:],
			Limbs: handConnections, Colors: handColors()}
	}
	cs := []Component{pose, face, hand(LeftHandLandmarks), hand(RightHandLandmarks)}
	if world {
		w := pose
		w.Name = PoseWorldLandmarks
		cs = append(cs, w)
	}
	// Callers may change what they get; the package tables stay as they are.
	for i := range cs {
		cs[i].Points = append([]string(nil), cs[i].Points...)
		cs[i].Limbs = append([][2]uint16(nil), cs[i].Limbs...)
	}
	return cs
}

// NewHolistic builds a file in the layout pose-format's MediaPipe utility writes, from
// frames in SCOPE's 543-point layout: points[t][i] is x, y in pixels of a width x height
// video and z as MediaPipe gives it; conf[t][i] is the point's visibility or presence, 0 for
// points not found (whose coordinates should then be 0, as MediaPipe writes them).
//
// world, if not nil, holds MediaPipe's pose world landmarks (metres) for each frame and adds
// a POSE_WORLD_LANDMARKS component whose confidence is the pose's.
func NewHolistic(width, height int, fps float32, points [][NumPoints][3]float32, conf [][NumPoints]float32, world [][NumPosePoints][3]float32) (*File, error) {
	if width < 0 || width > math.MaxUint16 || height < 0 || height > math.MaxUint16 {
		return nil, fmt.Errorf("video size %dx%d does not fit the .pose header (at most %d per side)", width, height, math.MaxUint16)
	}
	if len(conf) != len(points) {
		return nil, fmt.Errorf("%d frames of points but %d of confidence", len(points), len(conf))
	}
	if world != nil && len(world) != len(points) {
		return nil, fmt.Errorf("%d frames of points but %d of world landmarks", len(points), len(world))
	}
	f := &File{
		Header: Header{
			Version:    Version,
			Dimensions: Dimensions{Width: uint16(width), Height: uint16(height)},
			Components: HolisticComponents(world != nil),
		},
		Body: Body{FPS: fps, Frames: len(points), People: 1},
	}
	np := f.NumPoints()
	f.Data = make([]float32, 0, len(points)*np*3)
	f.Confidence = make([]float32, 0, len(points)*np)
	for t := range points {
		for i := range points[t] {
			f.Data = append(f.Data, points[t][i][:]...)
		}
		f.Confidence = append(f.Confidence, conf[t][:]...)
		if world != nil {
			for i := range world[t] {
				f.Data = append(f.Data, world[t][i][:]...)
			}
			f.Confidence = append(f.Confidence, conf[t][PoseOffset:PoseOffset+NumPosePoints]...)
		}
	}
	return f, nil
}

// partOf tells where a component's points go in the 543 layout.
type partOf struct {
	part   int
	offset int
	index  func(point string) (int, bool)
}

func nameIndex(names []string) func(string) (int, bool) {
	m := make(map[string]int, len(names))
	for i, n := range names {
		m[n] = i
	}
	return func(s string) (int, bool) { i, ok := m[s]; return i, ok }
}

func faceIndex(s string) (int, bool) {
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0 && i < NumFacePoints && strconv.Itoa(i) == s
}

func holisticParts() map[string]partOf {
	hand := nameIndex(HandPointNames[:])
	return map[string]partOf{
		PoseLandmarks:      {PartPose, PoseOffset, nameIndex(PosePointNames[:])},
		FaceLandmarks:      {PartFace, FaceOffset, faceIndex},
		LeftHandLandmarks:  {PartLeftHand, LeftHandOffset, hand},
		RightHandLandmarks: {PartRightHand, RightHandOffset, hand},
	}
}

// Holistic maps one person's points into the 543-point layout, matching components and
// points by name, so reduced files (a pose of 8 points, a face of 128 mesh points, a lone
// hand) fill what they have. Points the file lacks, and points of confidence 0 (which
// pose-format masks; some files hold stale coordinates or NaN there), are 0 with
// confidence 0.
//
// present[t][part] (PartPose, PartFace, ...) is true when the file has that part and any of
// its points has a confidence above 0 in frame t: MediaPipe writes confidence 0 for a part
// it did not find.
//
// unmapped lists what was left out: whole components by name (POSE_WORLD_LANDMARKS, other
// models' components) and single points as "COMPONENT/point" (the 10 iris points of a
// 478-point face). A file with none of the four parts is an error.
func (f *File) Holistic(person int) (frames [][NumPoints][3]float32, conf [][NumPoints]float32, present [][NumParts]bool, unmapped []string, err error) {
	if person < 0 || person >= f.People {
		return nil, nil, nil, nil, fmt.Errorf("person %d: the file has %d people", person, f.People)
	}
	if err := f.Validate(); err != nil {
		return nil, nil, nil, nil, err
	}
	type src struct{ from, to, part int }
	var moves []src
	var partSeen [NumParts]bool
	parts := holisticParts()
	offset := 0
	for _, c := range f.Components {
		p, ok := parts[c.Name]
		if !ok || partSeen[p.part] {
			if ok {
				unmapped = append(unmapped, c.Name+" (a second component of that name)")
			} else {
				unmapped = append(unmapped, c.Name)
			}
			offset += len(c.Points)
			continue
		}
		partSeen[p.part] = true
		for i, name := range c.Points {
			if j, ok := p.index(name); ok {
				moves = append(moves, src{offset + i, p.offset + j, p.part})
			} else {
				unmapped = append(unmapped, c.Name+"/"+name)
			}
		}
		offset += len(c.Points)
	}
	if len(moves) == 0 {
		// Also keeps a header of countless empty frames from costing 6.5 kB per frame here.
		return nil, nil, nil, unmapped, fmt.Errorf("no MediaPipe Holistic component to map: the file has %v", unmapped)
	}
	np, nd := f.NumPoints(), f.NumDims()
	nc := min(nd, 3)
	frames = make([][NumPoints][3]float32, f.Frames)
	conf = make([][NumPoints]float32, f.Frames)
	present = make([][NumParts]bool, f.Frames)
	for t := range f.Frames {
		base := (t*f.People + person) * np
		for _, m := range moves {
			i := base + m.from
			c := f.Confidence[i]
			if c == 0 {
				continue // masked, whatever coordinates the file holds
			}
			copy(frames[t][m.to][:nc], f.Data[i*nd:i*nd+nc])
			conf[t][m.to] = c
			if c > 0 {
				present[t][m.part] = true
			}
		}
	}
	return frames, conf, present, unmapped, nil
}
