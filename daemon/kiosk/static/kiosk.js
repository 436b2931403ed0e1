// SCOPE kiosk page: the signer's view (/) and the staff's view (/staff) of one
// conversation, driven by the daemon's live events (/api/events) and its API.
// No library, nothing loaded from outside the daemon.
(function () {
  "use strict";
  const view = document.body.dataset.view; // "signer" or "staff"
  const $ = (id) => document.getElementById(id);

  // A token given as #token=... (for a daemon that listens beyond loopback) is kept for
  // this tab only and taken out of the address bar.
  let token = sessionStorage.getItem("scope-token") || "";
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem("scope-token", token);
    history.replaceState(null, "", location.pathname);
  }

  async function api(method, path, body) {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["Authorization"] = "Bearer " + token;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const txt = await r.text();
    let data = null;
    try { data = txt ? JSON.parse(txt) : null; } catch (e) { data = null; }
    if (!r.ok) {
      const err = new Error((data && data.error) || r.status + " " + r.statusText);
      err.status = r.status;
      throw err;
    }
    return data;
  }

  // State: the open conversation, its turns, the caption being written, the sentence
  // waiting for the signer's answer.
  let conv = null;
  let turns = [];
  let live = { sentence: 0, text: "" };
  let pending = null;

  function keyOf(t) { return t.sentence ? "s" + t.sentence : "t" + t.seq + ":" + t.speaker; }

  function upsert(t) {
    const k = keyOf(t);
    const i = turns.findIndex((x) => keyOf(x) === k);
    if (i >= 0) turns[i] = Object.assign(turns[i], t); else turns.push(t);
    renderHistory();
  }

  function renderHistory() {
    const ol = $("history");
    ol.textContent = "";
    for (const t of turns) {
      if (view === "staff" && t.speaker === "signer" && t.rejected) continue; // signed again
      const li = document.createElement("li");
      const who = document.createElement("span");
      who.className = "who";
      const text = document.createElement("span");
      text.className = "text";
      if (t.interpreter_request) {
        li.className = "system";
        who.textContent = t.speaker === "hearing" ? "staff" : "signer";
        text.textContent = "asked for a human interpreter";
      } else {
        li.className = t.speaker;
        who.textContent = t.speaker === "hearing" ? "staff" : "signer";
        text.textContent = t.text || "(no sign recognised)";
      }
      li.append(who, text);
      if (t.sentence) li.dataset.sentence = t.sentence;
      if (t.speaker === "signer" && !t.interpreter_request) {
        if (t.unsure && !t.confirmed && !t.rejected) {
          li.classList.add("unsure");
          li.dataset.state = "unsure";
          li.append(tag("unsure", view === "staff" ? "unsure – not confirmed by the signer" : "waiting for you to confirm"));
        } else if (t.confirmed) {
          li.dataset.state = "confirmed";
          li.append(tag("confirmed", "confirmed by the signer"));
        } else if (t.rejected) {
          li.dataset.state = "rejected";
          li.append(tag("unsure", "signed again"));
        } else {
          li.dataset.state = "shown";
        }
      }
      ol.append(li);
    }
    ol.lastElementChild && ol.lastElementChild.scrollIntoView({ block: "nearest" });
  }

  function tag(cls, words) {
    const s = document.createElement("span");
    s.className = "tag " + cls;
    s.textContent = words;
    return s;
  }

  function caption(text, isPending, note) {
    if (view !== "signer") return;
    const c = $("caption");
    c.textContent = text;
    c.classList.toggle("pending", !!isPending);
    $("caption-note").textContent = note || "";
    fitCaption();
  }

  // At most two lines: shrink the type until the sentence fits, then show its end.
  function fitCaption() {
    const c = $("caption");
    let size = 4.2;
    c.style.fontSize = size + "rem";
    while (c.scrollHeight > c.clientHeight + 1 && size > 1.8) {
      size -= 0.2;
      c.style.fontSize = size.toFixed(1) + "rem";
    }
    c.scrollTop = c.scrollHeight;
  }

  function showConfirm(e) {
    if (view !== "signer") return;
    pending = { sentence: e.sentence, text: e.text };
    const box = $("choices");
    box.textContent = "";
    const options = [];
    for (const o of [e.text].concat(e.alternatives || [])) {
      if (o && !options.includes(o) && options.length < 4) options.push(o);
    }
    for (const o of options) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = o;
      b.dataset.testid = "choice";
      b.addEventListener("click", () => answer({ sentence: pending.sentence, text: o }));
      box.append(b);
    }
    $("confirm").dataset.sentence = e.sentence;
    $("confirm").hidden = false;
  }

  function hideConfirm() {
    pending = null;
    $("confirm") && ($("confirm").hidden = true);
  }

  async function answer(body) {
    try {
      await api("POST", "/api/conversations/current/confirm", body);
    } catch (err) {
      banner("Could not send your answer: " + err.message, 8000);
    }
  }

  // The banner holds a lasting state (the store not storing) and the latest transient
  // message (a stage that failed), both at once.
  let bannerTimer = null;
  let sticky = "";
  let transient = "";
  function showBanner() {
    const b = $("banner");
    const parts = [transient, sticky].filter(Boolean);
    b.textContent = parts.join(" · ");
    b.hidden = parts.length === 0;
  }
  function banner(text, ms) {
    clearTimeout(bannerTimer);
    transient = text || "";
    showBanner();
    if (ms) bannerTimer = setTimeout(() => { transient = ""; showBanner(); }, ms);
  }
  function setSticky(text) { sticky = text; showBanner(); }

  function setCamera(status, error) {
    const p = $("camera");
    const words = { ok: "Camera: on", missing: "Camera: not found – retrying", reconnecting: "Camera: lost – reconnecting",
      ended: "Input ended", stopped: "Camera: stopped", starting: "Camera: starting" };
    p.textContent = words[status] || "Camera: " + status;
    p.title = error || "";
    p.classList.toggle("bad", status !== "ok" && status !== "starting");
  }

  function setPaused(on) { $("paused").hidden = !on; if (conv) conv.paused = on; }

  function resetConversation(text) {
    turns = [];
    live = { sentence: 0, text: "" };
    hideConfirm();
    renderHistory();
    caption(text, true, "");
    if ($("conv")) $("conv").textContent = conv ? "#" + conv.id : "(none open)";
  }

  function showNotice(id) {
    if (view !== "signer") return;
    const key = "scope-notice-" + id;
    if (sessionStorage.getItem(key)) return;
    sessionStorage.setItem(key, "1");
    $("notice").hidden = false;
    setTimeout(() => { $("notice").hidden = true; }, 30000);
  }

  async function loadConversation() {
    try {
      const c = await api("GET", "/api/conversations/current");
      conv = { id: c.id, paused: c.paused };
      setPaused(!!c.paused);
      turns = (c.turns || []).map((t) => Object.assign({}, t));
      renderHistory();
      if ($("conv")) $("conv").textContent = "#" + c.id;
      const said = turns.filter((t) => t.speaker === "signer" && !t.interpreter_request).pop();
      if (said && said.rejected) caption("Please sign again.", true, "");
      else if (said && said.unsure && !said.confirmed) caption(said.text || "Not understood", true, "Not sure – please check below");
      else if (said) caption(said.text, false, "");
      const waiting = turns.filter((t) => t.unsure && !t.confirmed && !t.rejected && t.sentence).pop();
      if (waiting) showConfirm({ sentence: waiting.sentence, text: waiting.text, alternatives: waiting.alternatives });
      showNotice(c.id);
    } catch (err) {
      if (err.status === 404) { conv = null; resetConversation("Sign when you are ready."); setPaused(false); }
      else banner("Could not read the conversation: " + err.message, 8000);
    }
  }

  function onEvent(e) {
    switch (e.kind) {
      case "hello":
        setCamera(e.status, e.error);
        setSticky(e.reason && e.reason !== "ok" && e.reason !== "off" ? storeWords(e.reason) : "");
        loadConversation();
        break;
      case "conversation_started":
        conv = { id: e.conversation, paused: false };
        setPaused(false);
        resetConversation("Sign when you are ready.");
        showNotice(e.conversation);
        break;
      case "conversation_ended":
      case "conversation_deleted":
        if (!conv || e.conversation === conv.id) {
          conv = null;
          setPaused(false);
          resetConversation(e.kind === "conversation_deleted" || e.reason === "erased" ? "Conversation erased." : "Conversation ended.");
        }
        break;
      case "segment_start":
        // The last sentence stays up until the next one is being written.
        if (view === "signer") $("caption-note").textContent = "Signing seen…";
        break;
      case "hypotheses":
        if (view === "signer") $("caption-note").textContent = "Translating…";
        break;
      case "token":
        if (e.sentence !== live.sentence) live = { sentence: e.sentence, text: "" };
        live.text += e.text;
        caption(live.text, true, "Translating…");
        break;
      case "sentence":
        upsert({ sentence: e.sentence, seq: e.turn, speaker: "signer", text: e.text, unsure: false, confidence: e.confidence });
        caption(e.text || "(no sign recognised)", false, "");
        break;
      case "unsure":
        upsert({ sentence: e.sentence, seq: e.turn, speaker: "signer", text: e.text, unsure: true, alternatives: e.alternatives });
        caption(e.text || "Not understood", true, e.text ? "Not sure – please check below" : "Nothing recognised – please sign again");
        if (e.text || (e.alternatives && e.alternatives.length)) showConfirm(e);
        break;
      case "confirmed":
      case "rejected":
        upsert({ sentence: e.sentence, seq: e.turn, speaker: "signer", text: e.text, confirmed: e.kind === "confirmed", rejected: e.kind === "rejected", unsure: true });
        if (pending && pending.sentence === e.sentence) hideConfirm();
        caption(e.kind === "confirmed" ? e.text : "Please sign again.", e.kind !== "confirmed", "");
        break;
      case "reply":
        upsert({ seq: e.turn, speaker: "hearing", text: e.text });
        if (view === "signer") $("caption-note").textContent = "Staff: " + e.text;
        break;
      case "interpreter":
        setPaused(!!e.paused);
        if (e.paused) upsert({ seq: e.turn, speaker: e.speaker, interpreter_request: true, text: "" });
        break;
      case "camera":
        setCamera(e.status, e.error);
        break;
      case "store":
        setSticky(e.status === "ok" ? "" : storeWords(e.status));
        break;
      case "error":
        banner("Something went wrong (" + e.stage + "): " + e.error + ". Interpretation goes on.", 10000);
        break;
    }
  }

  function storeWords(status) {
    return status === "full"
      ? "The disk is full: this conversation is not being stored. Interpretation goes on."
      : "The conversation store is not working: this conversation is not being stored. Interpretation goes on.";
  }

  let backoff = 500;
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const q = token ? "?access_token=" + encodeURIComponent(token) : "";
    const ws = new WebSocket(proto + "//" + location.host + "/api/events" + q);
    ws.onopen = () => { backoff = 500; $("link").textContent = "Live"; $("link").classList.remove("bad"); };
    ws.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (err) { console.error(err); } };
    ws.onclose = () => {
      $("link").textContent = "Disconnected – reconnecting";
      $("link").classList.add("bad");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10000);
    };
  }

  async function ensureConversation() {
    if (conv) return;
    const c = await api("POST", "/api/conversations", {});
    conv = { id: c.id, paused: false };
  }

  $("interpreter").addEventListener("click", async () => {
    try {
      await ensureConversation();
      await api("POST", "/api/conversations/current/interpreter", { by: view === "staff" ? "hearing" : "signer" });
      banner("A human interpreter has been requested.", 8000);
    } catch (err) { banner("Could not call an interpreter: " + err.message + ". Please tell the staff.", 10000); }
  });

  $("resume").addEventListener("click", async () => {
    try { await api("POST", "/api/conversations/current/resume"); } catch (err) { banner(err.message, 8000); }
  });

  // End and erase takes two taps, so that a brush of the screen does not erase.
  let armed = null;
  $("erase").addEventListener("click", async () => {
    const b = $("erase");
    if (!armed) {
      b.textContent = "Tap again to erase this conversation";
      armed = setTimeout(() => { armed = null; b.textContent = "End and erase"; }, 6000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.textContent = "End and erase";
    if (!conv) { resetConversation("Nothing to erase."); return; }
    try {
      await api("DELETE", "/api/conversations/current");
      conv = null;
      resetConversation("Conversation erased.");
    } catch (err) { banner("Could not erase: " + err.message, 10000); }
  });

  if (view === "signer") {
    $("again").addEventListener("click", () => pending && answer({ sentence: pending.sentence, again: true }));
    $("notice-ok").addEventListener("click", () => { $("notice").hidden = true; });
  } else {
    $("new").addEventListener("click", async () => {
      try { await api("POST", "/api/conversations", {}); } catch (err) { banner(err.message, 8000); }
    });
    $("reply").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = $("reply-text");
      const text = input.value.trim();
      if (!text) return;
      try {
        await ensureConversation();
        await api("POST", "/api/conversations/current/replies", { text });
        input.value = "";
      } catch (err) { banner("Could not send the reply: " + err.message, 8000); }
    });
  }
  connect();
})();
