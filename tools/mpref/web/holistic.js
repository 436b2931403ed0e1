// Runs MediaPipe's Holistic solution (npm @mediapipe/holistic) frame by frame for the
// Node side: window.mpref.start(options), then window.mpref.frame(job) per image.
//
// The public send() stamps each frame with the page clock, which makes smoothing depend
// on speed; frames here go through the solution's inner send(inputs, timestampMs) with
// the fixed timestamps the Node side computes.
'use strict';

(() => {
  let holistic = null;
  let inner = null;
  let pending = null;

  // msFor returns a millisecond value that the solution turns back into exactly `us`
  // microseconds (it multiplies by 1000 and the result must not fall below us).
  function msFor(us) {
    let ms = us / 1000;
    const buf = new DataView(new ArrayBuffer(8));
    while (ms * 1000 < us) {
      buf.setFloat64(0, ms);
      buf.setBigUint64(0, buf.getBigUint64(0) + 1n);
      ms = buf.getFloat64(0);
    }
    return ms;
  }

  function points(list, withVisibility) {
    if (!list || list.length === 0) return null;
    return list.map((p) => (withVisibility ? [p.x, p.y, p.z, p.visibility ?? 0] : [p.x, p.y, p.z]));
  }

  async function start(opts) {
    const t0 = performance.now();
    holistic = new Holistic({ locateFile: (file) => `/pkg/holistic/${file}` });
    holistic.setOptions({
      modelComplexity: opts.modelComplexity,
      smoothLandmarks: opts.smoothLandmarks,
      enableSegmentation: false,
      smoothSegmentation: false,
      refineFaceLandmarks: opts.refineFaceLandmarks,
      minDetectionConfidence: opts.minDetectionConfidence,
      minTrackingConfidence: opts.minTrackingConfidence,
      selfieMode: false,
      useCpuInference: true,
    });
    holistic.onResults((r) => {
      // Copy now: the solution reuses its result objects for the next frame.
      const out = {
        pose: points(r.poseLandmarks, true),
        face: points(r.faceLandmarks, false),
        left_hand: points(r.leftHandLandmarks, false),
        right_hand: points(r.rightHandLandmarks, false),
      };
      if (pending) { const p = pending; pending = null; p(out); }
    });
    await holistic.initialize();
    for (const v of Object.values(holistic)) {
      if (v && typeof v === 'object' && typeof v.send === 'function' && v.send.length === 2 && typeof v.reset === 'function') {
        inner = v;
      }
    }
    if (!inner) throw new Error('@mediapipe/holistic: cannot find the solution object whose send() takes a timestamp; the package version changed?');
    return { initMs: performance.now() - t0 };
  }

  async function frame(job) {
    const t0 = performance.now();
    const img = new Image();
    img.src = job.url;
    try {
      await img.decode();
    } catch (err) {
      throw new Error(`${job.name}: the browser cannot decode it as an image (${err.message})`);
    }
    const t1 = performance.now();
    if (job.reset) await holistic.reset();
    const got = new Promise((resolve) => { pending = resolve; });
    await inner.send({ image: img }, msFor(job.timestampUs));
    let timer;
    const res = await Promise.race([got, new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('no results from the solution within 120 s')), 120000);
    })]).finally(() => clearTimeout(timer));
    const t2 = performance.now();
    return { width: img.naturalWidth, height: img.naturalHeight, decodeMs: t1 - t0, ms: t2 - t1, ...res };
  }

  window.mpref = { start, frame, simd: null };
  window.mprefReady = typeof Holistic === 'function';
})();
