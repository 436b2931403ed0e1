// Package synth is SCOPE's synthetic signer: it writes dialogues between a signer and a
// hearing person at a kiosk (hospital reception, pharmacy, service counter) as
// MediaPipe Holistic keypoints, so that the recogniser can be trained, tested and
// benchmarked where no continuous sign language keypoint corpus can be reached.
//
// How a corpus is made, from words to keypoints:
//
//   - Vocabulary (vocab.go, world.go): three domains with four topics each, sentence
//     templates that produce glosses and their English translation together, word
//     categories that fill the templates' slots, and 21 groups of near-identical signs
//     (minimal pairs and triples). Over 300 glosses.
//
//   - Signs (lexicon.go): every gloss gets a phonological form — hands (one, symmetric,
//     alternating, on a base hand), handshape, location on the body or face,
//     orientation, movement path, repetitions, size — drawn once from a fixed seed, so
//     every corpus signs a gloss the same way. Signs outside groups differ from every
//     other sign in at least two features; group members in exactly one, small one
//     (bent vs straight fingers, chin vs mouth, one vs two repetitions, 35° of twist,
//     a smaller path).
//
//   - Context (dialogue.go): a dialogue has a domain and a topic; the hearing person's
//     turns show the topic in words (never naming a group member). About 20% of
//     signer tokens come from groups; the member the topic favours is drawn with odds
//     4:1 against each other member, and the other members occur in that topic too.
//     The other 80% do not depend on the topic.
//
//   - Hands (hand.go): a kinematic hand — joint angles per handshape on human bone
//     proportions, checked against real MediaPipe hands (synth_test.go).
//
//   - Motion (render.go, path.go): a turn is rest, raise, signs joined by short
//     transitions, lower, rest. Signs lean 15% towards their neighbours and the
//     handshape turns into the next one before a sign ends (co-articulation). Arms
//     follow by inverse kinematics; the head sways and the mouth moves while signing.
//
//   - Signers (signer.go): body size, hand size, speed (0.7-1.3), amplitude, dominant
//     hand (15% left), framing, noise level. Signers are split 70/15/15 into train,
//     dev and test; dialogues 8:1:1, each signed by a signer of its split.
//
//   - Estimator (noise.go): jitter and wobble as MediaPipe shows them, pose
//     visibilities, legs guessed outside the image, hands lost for a few frames when
//     fast, over the face or at the image's bottom edge (zeros with confidence 0).
//
//   - Translation lexicon (translation.go): for every gloss, the English words it stands
//     for and whether it is a safety-critical detail; written as lexicon.json beside the
//     corpus and shipped with the demo translator, which may only say what the glosses
//     support.
//
// Generator.Write renders dialogues in parallel, each from its own random source
// (seed, dialogue index), so a seed gives the same files byte for byte whatever the
// number of workers. Output goes through package scope/models/poseformat and
// scope/dataset: manifest.jsonl, info.json and pose/<turn id>.pose (see
// dataset/README.md). Coordinates are pixels of a 640x480 frame (configurable) with z
// as MediaPipe reports it. Everything this package writes is synthetic and must be
// labelled so where results on it are shown.
package synth
