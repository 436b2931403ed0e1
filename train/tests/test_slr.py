"""Tests of train.slr: the .pose reader, features, tokenizer, quantiser, and a tiny training run."""
import os
import struct
import tempfile
import unittest

import numpy as np

from train.slr import features, onnxq, poseio, tokenizer

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "pose-samples")


def need_samples(test):
    if not os.path.isdir(SAMPLES):
        if os.environ.get("CI") == "true":
            raise AssertionError(f"shared data {SAMPLES} missing")
        raise unittest.SkipTest(f"shared data {SAMPLES} not found")


class PoseIOTest(unittest.TestCase):
    def test_reads_real_samples_in_both_versions(self):
        need_samples(self)
        for name, version, frames in [("mediapipe.pose", 0.1, 170), ("0ff215ef4f1f111e217e2cefee0adc77.pose", 0.2, 121)]:
            p = poseio.read(os.path.join(SAMPLES, name))
            self.assertEqual(p.version, version)
            pts, conf = p.holistic()
            self.assertEqual(pts.shape, (frames, 543, 3))
            # both shoulders found in every frame of these clips
            self.assertTrue((conf[:, [11, 12]] > 0).all())

    def test_truncated_file_is_an_error_naming_the_file(self):
        need_samples(self)
        with open(os.path.join(SAMPLES, "mediapipe.pose"), "rb") as f:
            b = f.read()
        with self.assertRaisesRegex(poseio.PoseFormatError, "cut.pose"):
            poseio.parse(b[: len(b) // 2], "cut.pose")


class FeaturesTest(unittest.TestCase):
    def frames(self, t=12, seed=0):
        rng = np.random.default_rng(seed)
        pts = (rng.random((t, 543, 3)) * 300 + 100).astype(np.float32)
        conf = np.ones((t, 543), np.float32)
        return pts, conf

    def test_shape_and_hand_flags(self):
        pts, conf = self.frames()
        conf[3:6, 501:522] = 0
        for v in (1, 2):
            x = features.compute(pts, conf, 30.0, v)
            self.assertEqual(x.shape, (12, features.feature_dim(v)))
            flags = len(features.POINTS) * 4
            self.assertEqual(list(x[:, flags]), [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1])
            self.assertTrue((x[:, flags + 1] == 1).all())
        # version 2: the lost left hand has no shape; the right hand has one
        shape = x[:, len(features.POINTS) * 4 + 2:]
        self.assertTrue((shape[3:6, :40] == 0).all())
        self.assertTrue((shape[:, 40:] != 0).any(1).all())

    def test_hand_shape_ignores_hand_size_and_place(self):
        pts, conf = self.frames()
        big = pts.copy()
        w = pts[:, 522:523, :2]
        big[:, 522:543, :2] = (pts[:, 522:543, :2] - w) * 1.7 + w + 25
        a = features.compute(pts, conf, 25)[:, -40:]
        b = features.compute(big, conf, 25)[:, -40:]
        np.testing.assert_allclose(a, b, atol=1e-4)

    def test_mirror_augmentation_swaps_hands_and_sides(self):
        from train.slr import data
        pts, conf = self.frames(t=6)
        conf[:, 501:522] = 0        # only the right hand is seen
        p, v, sh, shv = features.select(pts, conf)
        s = data.Sample("m", [], "", [], [], 25.0, p.astype(np.float32), v, sh.astype(np.float32), shv)
        rng = np.random.default_rng(0)
        mp, mv, msh, mshv = data.augment(s, data.Augment(rotate_deg=0, scale=0, speed=0, drop_hand=0,
                                                         jitter=0, mirror=1.0), rng)
        x, y = features.compute_selected(p, v, sh, shv, 25), features.compute_selected(mp, mv, msh, mshv, 25)
        flags = len(features.POINTS) * 4
        self.assertEqual((x[0, flags], x[0, flags + 1]), (0, 1))
        self.assertEqual((y[0, flags], y[0, flags + 1]), (1, 0))   # now the left hand signs
        # the nose (point 0) keeps its height and flips its side
        np.testing.assert_allclose(y[:, 1], x[:, 1], atol=1e-5)
        np.testing.assert_allclose(y[:, 0], -x[:, 0], atol=1e-5)
        idx = features.mirror_index()
        self.assertEqual(sorted(idx), list(range(len(features.POINTS))))
        self.assertEqual([idx[i] for i in idx], list(range(len(features.POINTS))))

    def test_invariant_to_camera_distance_and_position(self):
        pts, conf = self.frames()
        far = pts.copy()
        far[..., :2] = pts[..., :2] * 0.5 + 37
        np.testing.assert_allclose(features.compute(pts, conf, 25), features.compute(far, conf, 25), atol=1e-4)

    def test_missing_shoulders_carry_the_last_frame(self):
        pts, conf = self.frames()
        conf[:2, 11] = 0
        conf[7, 12] = 0
        x = features.compute(pts, conf, 25)
        ref = features.compute(pts[2:3], conf[2:3], 25)
        # frame 0 uses frame 2's centre/scale: its positions match a computation with that centre
        c = (pts[2, 11, :2] + pts[2, 12, :2]) / 2
        s = np.linalg.norm(pts[2, 11, :2] - pts[2, 12, :2])
        np.testing.assert_allclose(x[0, 0:2], (pts[0, 0, :2] - c) / s, rtol=1e-5)
        self.assertEqual(ref.shape[0], 1)


class TokenizerTest(unittest.TestCase):
    def test_words_and_context(self):
        self.assertEqual(tokenizer.words("Hello, WORLD! Ünïcode 42x_y"), ["hello", "world", "ünïcode", "42x", "y"])
        tok = tokenizer.Tokenizer(["hello", "world"], max_len=5)
        self.assertEqual(tok.encode_context([]), [tokenizer.BOS])
        # keeps the most recent ids: [bos] + last 4
        self.assertEqual(tok.encode_context(["hello there", "world"]), [2, 1, 3, 5, 3])


class QuantiserTest(unittest.TestCase):
    def test_protobuf_round_trip_and_int8_weights(self):
        import torch
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(64, 48), torch.nn.ReLU(), torch.nn.Linear(48, 8))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.onnx")
            torch.onnx.export(net, (torch.zeros(1, 3, 64),), path, opset_version=14,
                              input_names=["x"], output_names=["y"])
            with open(path, "rb") as f:
                b = f.read()
        self.assertEqual(onnxq.encode(onnxq.decode(b)), b)
        q, done = onnxq.quantize_weights(b, min_elements=256)
        self.assertEqual(len(done), 2)
        self.assertLess(len(q), len(b) * 0.5)
        ins, outs = onnxq.io_info(q)
        self.assertEqual([i[0] for i in ins], ["x"])
        self.assertEqual([o[0] for o in outs], ["y"])


class BeamSearchTest(unittest.TestCase):
    def test_matches_enumeration_of_alignments(self):
        import itertools
        from train.slr import hypotheses
        rng = np.random.default_rng(3)
        steps, vocab = 5, 3
        x = rng.normal(size=(steps, vocab)) * 2
        logp = x - np.log(np.exp(x).sum(-1, keepdims=True))
        # exact: sum over every alignment of its collapsed label sequence's probability
        total = {}
        for path in itertools.product(range(vocab), repeat=steps):
            lab, last = [], 0
            for c in path:
                if c != last and c != 0:
                    lab.append(c)
                last = c
            p = sum(logp[t, c] for t, c in enumerate(path))
            total[tuple(lab)] = np.logaddexp(total.get(tuple(lab), -np.inf), p)
        exact = sorted(total.items(), key=lambda kv: -kv[1])[:3]
        got = hypotheses.beam_search(logp, beam=50, top=3)
        self.assertEqual([tuple(g) for g, _ in got], [k for k, _ in exact])
        for (g, s), (_, e) in zip(got, exact):
            self.assertAlmostEqual(s, e, places=6)


class TinyTrainingTest(unittest.TestCase):
    def test_loss_falls(self):
        from train.slr import toy, train as T
        s = toy.samples(32, seed=0)
        cfg = T.TrainConfig(max_steps=30, batch=8, d_model=32, layers=1, heads=2, ff=64, warmup=5, lr=3e-3,
                            dropout=0.0, augment=True, eval_every=10 ** 9)
        res = T.train(cfg, s, [], log=lambda m: None)
        first, last = np.mean(res["losses"][:5]), np.mean(res["losses"][-5:])
        self.assertLess(last, 0.6 * first, f"CTC loss went from {first:.3f} to {last:.3f}")

    def test_resume(self):
        from train.slr import toy, train as T
        s = toy.samples(16, seed=1)
        with tempfile.TemporaryDirectory() as d:
            kw = dict(batch=8, d_model=32, layers=1, heads=2, ff=64, warmup=2, lr=3e-3, dropout=0.0, eval_every=5,
                      out=d, dev_limit=0)
            T.train(T.TrainConfig(max_steps=10, **kw), s, s[:4], log=lambda m: None)
            self.assertTrue(os.path.exists(os.path.join(d, "resume.pt")))
            logs = []
            res = T.train(T.TrainConfig(max_steps=15, resume=True, **kw), s, s[:4], log=logs.append)
            self.assertTrue(any("resumed" in m and "step 10" in m for m in logs), logs)
            self.assertEqual(res["steps"], 15)
            self.assertEqual(len(res["losses"]), 15)


if __name__ == "__main__":
    unittest.main()
