#!/usr/bin/env node
// holistic: run MediaPipe's Holistic solution (npm @mediapipe/holistic, CPU inference) in
// headless Chromium on images or a video's frames and write the landmarks per frame.
//
//   node tools/mpref/holistic.mjs [-v] request.json
//
// Request (paths relative to the request file):
//   {"mode": "static" | "video", "model_complexity": 0 | 1 | 2,
//    "images": ["a.jpg", ...]  or  "frames_dir": "frames/",
//    "out": "result.json"}
// Optional: "smooth_landmarks" (video only; default true), "refine_face_landmarks"
// (default false), "min_detection_confidence", "min_tracking_confidence" (0.5),
// "frame_interval_us" (33333). The result goes to "out", or stdout when absent.
// See README.md.

import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError, main, pageMessage, readJSON, requirePackage, resolveFrom, withBrowser, here } from './lib.mjs';

const imageExt = /\.(png|jpe?g|bmp|webp)$/i;

function number(v, def, field, lo, hi) {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !(v >= lo && v <= hi)) throw new UsageError(`${field}: want a number in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
  return v;
}

function parseRequest(req, base) {
  const mode = req.mode ?? 'static';
  if (mode !== 'static' && mode !== 'video') throw new UsageError(`mode: want "static" or "video", got ${JSON.stringify(mode)}`);
  const complexity = req.model_complexity ?? 1;
  if (![0, 1, 2].includes(complexity)) throw new UsageError(`model_complexity: want 0, 1 or 2, got ${JSON.stringify(complexity)}`);
  let images;
  if (req.images !== undefined && req.frames_dir !== undefined) throw new UsageError('give either "images" or "frames_dir", not both');
  if (Array.isArray(req.images)) {
    images = req.images.map((p, i) => resolveFrom(base, p, `images[${i}]`));
  } else if (req.frames_dir !== undefined) {
    const dir = resolveFrom(base, req.frames_dir, 'frames_dir');
    let names;
    try {
      names = readdirSync(dir);
    } catch (err) {
      throw new UsageError(`frames_dir: ${err.message}`);
    }
    // Sorted by name, numbers compared as numbers (frame_2 before frame_10).
    names = names.filter((n) => imageExt.test(n)).sort(new Intl.Collator('en', { numeric: true }).compare);
    images = names.map((n) => path.join(dir, n));
    if (images.length === 0) throw new UsageError(`frames_dir: ${dir} has no .png/.jpg/.jpeg/.bmp/.webp files`);
  } else {
    throw new UsageError('want "images": [paths] or "frames_dir": folder');
  }
  if (images.length === 0) throw new UsageError('images: empty list');
  for (const [i, p] of images.entries()) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      throw new UsageError(`images[${i}]: ${err.message}`);
    }
    if (!st.isFile()) throw new UsageError(`images[${i}]: ${p} is not a file`);
  }
  const smooth = mode === 'video' ? (req.smooth_landmarks ?? true) : false;
  if (mode === 'static' && req.smooth_landmarks === true) throw new UsageError('smooth_landmarks: static mode treats every image alone; use mode "video" for smoothing');
  return {
    mode,
    modelComplexity: complexity,
    images,
    out: req.out === undefined ? null : resolveFrom(base, req.out, 'out'),
    smoothLandmarks: Boolean(smooth),
    refineFaceLandmarks: Boolean(req.refine_face_landmarks ?? false),
    minDetectionConfidence: number(req.min_detection_confidence, 0.5, 'min_detection_confidence', 0, 1),
    minTrackingConfidence: number(req.min_tracking_confidence, 0.5, 'min_tracking_confidence', 0, 1),
    frameIntervalUs: number(req.frame_interval_us, 33333, 'frame_interval_us', 1, 1e9),
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

main(async () => {
  const args = process.argv.slice(2);
  const verbose = args[0] === '-v';
  if (verbose) args.shift();
  if (args.length !== 1) throw new UsageError('usage: node tools/mpref/holistic.mjs [-v] request.json');
  const reqFile = path.resolve(args[0]);
  const req = parseRequest(await readJSON(reqFile, 'request'), path.dirname(reqFile));
  const pkgDir = requirePackage('@mediapipe/holistic');

  let urls;
  const result = await withBrowser({
    pagePath: '/web/holistic.html',
    readyExpr: 'window.mprefReady === true',
    verbose,
    setup(server) {
      server.mount('/pkg/holistic/', pkgDir);
      server.mount('/web/', path.join(here, 'web'));
      urls = req.images.map((p) => server.file(p));
    },
  }, async (page) => {
    const { initMs } = await page.evaluate((o) => window.mpref.start(o), {
      modelComplexity: req.modelComplexity,
      smoothLandmarks: req.smoothLandmarks,
      refineFaceLandmarks: req.refineFaceLandmarks,
      minDetectionConfidence: req.minDetectionConfidence,
      minTrackingConfidence: req.minTrackingConfidence,
    });
    const frames = [];
    const t0 = performance.now();
    for (const [i, image] of req.images.entries()) {
      const job = {
        url: urls[i],
        name: image,
        // Like MediaPipe's Python API: the first frame is at one interval, not 0.
        timestampUs: (i + 1) * req.frameIntervalUs,
        reset: req.mode === 'static',
      };
      let f;
      try {
        f = await page.evaluate((j) => window.mpref.frame(j), job);
      } catch (err) {
        throw new Error(`frame ${i} (${image}): ${pageMessage(err)}`);
      }
      frames.push({
        image,
        timestamp_us: job.timestampUs,
        width: f.width,
        height: f.height,
        ms: f.ms,
        decode_ms: f.decodeMs,
        pose: f.pose,
        face: f.face,
        left_hand: f.left_hand,
        right_hand: f.right_hand,
      });
      if (verbose) process.stderr.write(`mpref: frame ${i + 1}/${req.images.length} ${f.ms.toFixed(1)} ms\n`);
    }
    const wallMs = performance.now() - t0;
    const ms = frames.map((f) => f.ms);
    const sum = ms.reduce((a, b) => a + b, 0);
    const rest = ms.slice(1);
    const restSum = rest.reduce((a, b) => a + b, 0);
    return {
      solution: '@mediapipe/holistic 0.5.1675471629',
      mode: req.mode,
      model_complexity: req.modelComplexity,
      use_cpu_inference: true,
      smooth_landmarks: req.smoothLandmarks,
      refine_face_landmarks: req.refineFaceLandmarks,
      min_detection_confidence: req.minDetectionConfidence,
      min_tracking_confidence: req.minTrackingConfidence,
      frame_interval_us: req.frameIntervalUs,
      timing: {
        init_ms: initMs,
        frames: frames.length,
        total_ms: sum,
        wall_ms: wallMs,
        mean_ms: sum / frames.length,
        median_ms: median(ms),
        fps: frames.length / (sum / 1000),
        fps_after_first: rest.length ? rest.length / (restSum / 1000) : null,
      },
      frames,
    };
  });
  const text = JSON.stringify(result) + '\n';
  if (req.out) writeFileSync(req.out, text);
  else process.stdout.write(text);
  const t = result.timing;
  process.stderr.write(`mpref: holistic ${req.mode} complexity ${req.modelComplexity}: ${t.frames} frames, ` +
    `${t.mean_ms.toFixed(1)} ms/frame mean, ${t.fps.toFixed(2)} frames/s\n`);
});
