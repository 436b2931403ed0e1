// Tests of SCOPE's kiosk page in Debian's Chromium (headless) through playwright-core.
// Run by daemon/kiosk's Go test, which starts two daemons and passes their addresses:
//
//   node pagetest.mjs --shown URL --unsure URL --out DIR
//
// --shown: a daemon whose gate shows every sentence; --unsure: one whose gate asks the
// signer about every sentence. Each check prints "ok <name>"; the first failure prints
// "FAIL <name>: <why>" and exits 1. A screenshot of the signer's page goes to DIR.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) => (i % 2 === 0 ? a.concat([[v.replace(/^--/, ""), all[i + 1]]]) : a), []));
const shown = args.shown, unsure = args.unsure, out = args.out || ".";
mkdirSync(out, { recursive: true });
const T = 90_000; // a liveness bound for one step on a loaded machine, not a timing check

let current = "";
function check(cond, why) {
  if (!cond) throw new Error(why);
}
async function step(name, fn) {
  current = name;
  await fn();
  console.log("ok " + name);
}

// Nothing may leave the machine: names do not resolve, anything not on loopback goes to
// a proxy that is not there, and every request the pages make is audited.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--proxy-server=http://127.0.0.1:9"],
});
const requests = [];
async function open(url) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, serviceWorkers: "block" });
  const page = await ctx.newPage();
  page.on("request", (r) => requests.push(r.url()));
  page.on("pageerror", (e) => { throw new Error("page error on " + url + ": " + e.message); });
  await page.goto(url, { waitUntil: "load" });
  return page;
}
const text = (page, sel) => page.locator(sel).innerText();

try {
  const signer = await open(shown + "/");
  const staff = await open(shown + "/staff");

  await step("page loads offline: every request stays on the daemon", async () => {
    await signer.waitForSelector("[data-testid=link]:has-text('Live')", { timeout: T });
    await staff.waitForSelector("[data-testid=link]:has-text('Live')", { timeout: T });
    const origin = new URL(shown).origin;
    const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith(origin.replace("http", "ws")));
    check(foreign.length === 0, "requests outside the daemon: " + foreign.join(", "));
    check(requests.some((u) => u.endsWith("/static/kiosk.css")) && requests.some((u) => u.endsWith("/static/kiosk.js")), "the page's own files were not loaded");
  });

  await step("caption is large, high-contrast and at most two lines", async () => {
    const s = await signer.locator("[data-testid=caption]").evaluate((el) => {
      const cs = getComputedStyle(el);
      return { size: parseFloat(cs.fontSize), line: parseFloat(cs.lineHeight), max: parseFloat(cs.maxHeight), color: cs.color,
        bg: getComputedStyle(document.body).backgroundColor };
    });
    check(s.size >= 28, "caption font " + s.size + "px");
    check(s.max <= 2 * s.line + 1, "caption allows more than two lines: max-height " + s.max + " for line " + s.line);
    const lum = (c) => {
      const [r, g, b] = c.match(/\d+/g).map(Number).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [a, b] = [lum(s.color), lum(s.bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    check(ratio >= 4.5, "caption contrast " + ratio.toFixed(1) + ":1 is below WCAG AA");
  });

  await step("a sentence signed in the .pose source appears as a caption", async () => {
    await signer.waitForSelector("[data-testid=history] li.signer[data-state=shown]", { timeout: T });
    const cap = await text(signer, "[data-testid=caption]");
    const last = await signer.locator("[data-testid=history] li.signer[data-state=shown] .text").last().innerText();
    check(cap.trim().length > 0 && cap === last, "caption " + JSON.stringify(cap) + ", last sentence " + JSON.stringify(last));
    await staff.waitForSelector("[data-testid=history] li.signer[data-state=shown]", { timeout: T });
  });

  await step("the notice about machine interpretation is shown at the encounter's start", async () => {
    const visible = await signer.locator("[data-testid=notice]").isVisible();
    check(visible, "no notice on the signer's page");
    const words = await text(signer, "[data-testid=notice]");
    check(/machine interpretation/i.test(words) && /not yet been trained on real signers/i.test(words) && /human interpreter/i.test(words), "notice says: " + words);
    await signer.click("[data-testid=notice-ok]");
    check(!(await signer.locator("[data-testid=notice]").isVisible()), "the notice does not close");
  });

  await signer.screenshot({ path: join(out, "kiosk-signer.png") });
  await staff.screenshot({ path: join(out, "kiosk-staff.png") });

  await step("a typed reply appears in the history and in the next translation's context", async () => {
    const reply = "Please take a seat, the nurse is coming.";
    await staff.fill("[data-testid=reply-text]", reply);
    await staff.click("[data-testid=reply-send]");
    await staff.waitForSelector(`[data-testid=history] li.hearing:has-text("${reply}")`, { timeout: T });
    await signer.waitForSelector(`[data-testid=history] li.hearing:has-text("${reply}")`, { timeout: T });
    const r = await fetch(shown + "/api/conversations/current/context");
    const ctx = await r.json();
    check(r.status === 200 && ctx.context.includes(reply), "context after the reply: " + JSON.stringify(ctx));
    // The next sentence is translated with it: it comes after the reply in the history.
    const before = await signer.locator("[data-testid=history] li.signer").count();
    await signer.waitForFunction((n) => document.querySelectorAll("[data-testid=history] li.signer").length > n, before, { timeout: T });
  });

  // The confirm step, sign again, the interpreter button, and end and erase.
  const signer2 = await open(unsure + "/");
  const staff2 = await open(unsure + "/staff");

  // The encounter's notice comes first; the signer reads it and closes it.
  await signer2.waitForSelector("[data-testid=notice]:visible", { timeout: T });
  await signer2.click("[data-testid=notice-ok]");

  let choice = "";
  await step("an unsure sentence goes to the signer's confirm step, marked unsure for the staff", async () => {
    await signer2.waitForSelector("[data-testid=confirm]:visible", { timeout: T });
    const n = await signer2.locator("[data-testid=choice]").count();
    check(n >= 2 && n <= 4, n + " choices (the sentence and up to three alternatives)");
    check(await signer2.locator("[data-testid=again]").isVisible(), "no 'sign again'");
    await staff2.waitForSelector("[data-testid=history] li.unsure", { timeout: T });
    check(/unsure/i.test(await staff2.locator("[data-testid=history] li.unsure").first().innerText()), "the staff's view does not mark it unsure");
    check((await staff2.locator("[data-testid=history] li.signer[data-state=shown]").count()) === 0, "the staff saw an unsure sentence as certain");
  });
  await signer2.screenshot({ path: join(out, "kiosk-confirm.png") });

  await step("the signer's choice is confirmed on both views", async () => {
    const opt = signer2.locator("[data-testid=choice]").nth(1);
    choice = await opt.innerText();
    await opt.click();
    await staff2.waitForSelector(`[data-testid=history] li[data-state=confirmed]:has-text("${choice}")`, { timeout: T });
    check(await signer2.locator("[data-testid=confirm]").isHidden(), "the confirm step stays open");
  });

  await step("sign again rejects the sentence and hides it from the staff", async () => {
    await signer2.waitForSelector("[data-testid=confirm]:visible", { timeout: T });
    const n = await signer2.locator("[data-testid=confirm]").getAttribute("data-sentence");
    await staff2.waitForSelector(`[data-testid=history] li[data-sentence="${n}"]`, { timeout: T });
    await signer2.click("[data-testid=again]");
    await signer2.waitForSelector(`[data-testid=history] li[data-sentence="${n}"][data-state=rejected]`, { timeout: T });
    await staff2.waitForSelector(`[data-testid=history] li[data-sentence="${n}"]`, { state: "detached", timeout: T });
  });

  await step("calling a human interpreter pauses interpretation and is recorded", async () => {
    await signer2.click("[data-testid=interpreter]");
    await signer2.waitForSelector("[data-testid=paused]:visible", { timeout: T });
    await staff2.waitForSelector("[data-testid=paused]:visible", { timeout: T });
    await staff2.waitForSelector("[data-testid=history] li.system", { timeout: T });
    const c = await (await fetch(unsure + "/api/conversations/current")).json();
    check(c.paused === true && c.turns.some((t) => t.interpreter_request && t.speaker === "signer"), "conversation after the request: " + JSON.stringify(c).slice(0, 300));
  });

  await step("end and erase deletes the encounter", async () => {
    const id = (await (await fetch(unsure + "/api/conversations/current")).json()).id;
    await signer2.click("[data-testid=erase]");
    check(/again/i.test(await text(signer2, "[data-testid=erase]")), "erase did not ask for a second tap");
    await signer2.click("[data-testid=erase]");
    await signer2.waitForFunction(() => document.querySelectorAll("[data-testid=history] li").length === 0, null, { timeout: T });
    await staff2.waitForFunction(() => document.querySelectorAll("[data-testid=history] li").length === 0, null, { timeout: T });
    const r = await fetch(unsure + "/api/conversations/" + id);
    check(r.status === 404, "conversation " + id + " after erase: HTTP " + r.status);
  });

  await step("a translator error becomes a message on the page, and interpretation goes on", async () => {
    await staff2.waitForSelector("[data-testid=banner]:has-text('translate')", { timeout: T });
    check(/goes on/i.test(await text(staff2, "[data-testid=banner]")), "banner: " + (await text(staff2, "[data-testid=banner]")));
  });

  await step("a full disk is said on the page: nothing is being stored", async () => {
    await signer2.waitForSelector("[data-testid=banner]:has-text('disk is full')", { timeout: T });
  });

  await step("the camera's status is shown", async () => {
    check(/camera: on/i.test(await text(signer2, "[data-testid=camera]")), "camera status: " + (await text(signer2, "[data-testid=camera]")));
  });
  await browser.close();
} catch (e) {
  console.log("FAIL " + current + ": " + (e && e.message ? e.message.split("\n")[0] : e));
  await browser.close().catch(() => {});
  process.exit(1);
}
