// Shared plumbing for the mpref reference runs: a loopback HTTP server that serves the npm
// packages and the caller's files, and a headless Chromium driven by playwright-core.
//
// Only files that a script registers (or that sit under a mounted package folder) are
// served; outputs come back from the page by PUT to URLs the script registered, so the
// page never names a path on disk.

import { createServer } from 'node:http';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const nodeModules = path.join(here, 'node_modules');

// The flags every run uses; see README.md for why each is there.
export const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.bmp': 'image/bmp',
  '.webp': 'image/webp',
};

export class UsageError extends Error {}

export function die(msg) {
  process.stderr.write(`mpref: ${msg}\n`);
  process.exit(1);
}

// requirePackage fails with the setup hint when npm ci has not run.
export function requirePackage(name) {
  const dir = path.join(nodeModules, name);
  if (!existsSync(path.join(dir, 'package.json'))) {
    throw new UsageError(`${dir} is missing: run make setup (npm ci --prefix tools/mpref)`);
  }
  return dir;
}

export function chromiumPath() {
  const candidates = [process.env.MPREF_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium'].filter(Boolean);
  for (const c of candidates) {
    if (existsSync(c)) return c;
  }
  throw new UsageError(`no Chromium at ${candidates.join(' or ')}: run make setup (apt-get install chromium) or set MPREF_CHROMIUM`);
}

export async function readJSON(file, what) {
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`reading ${what} ${file}: ${err.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} ${file} is not valid JSON: ${err.message}`);
  }
}

// Server is the loopback HTTP server. mount() exposes a folder under a URL prefix,
// file() one file under an opaque URL, sink() a URL the page PUTs one output to.
export class Server {
  constructor() {
    this.mounts = new Map(); // prefix -> dir
    this.files = new Map(); // url -> path
    this.sinks = new Map(); // url prefix -> dir
    this.next = 0;
    this.http = createServer((req, res) => this.handle(req, res));
  }

  async start() {
    await new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(0, '127.0.0.1', resolve);
    });
    this.origin = `http://127.0.0.1:${this.http.address().port}`;
    return this.origin;
  }

  close() {
    this.http.closeAllConnections?.();
    this.http.close();
  }

  mount(prefix, dir) {
    this.mounts.set(prefix.replace(/\/?$/, '/'), path.resolve(dir));
    return prefix.replace(/\/?$/, '/');
  }

  file(p) {
    const url = `/f/${this.next++}${path.extname(p)}`;
    this.files.set(url, path.resolve(p));
    return url;
  }

  // sink gives a URL prefix; a PUT to prefix + name writes dir/name (a plain file name).
  sink(dir) {
    const url = `/o/${this.next++}/`;
    this.sinks.set(url, dir);
    return url;
  }

  sinkPath(urlPath) {
    const slash = urlPath.lastIndexOf('/');
    const dir = this.sinks.get(urlPath.slice(0, slash + 1));
    const name = urlPath.slice(slash + 1);
    if (!dir || !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) return null;
    return path.join(dir, name);
  }

  resolve(urlPath) {
    if (this.files.has(urlPath)) return this.files.get(urlPath);
    for (const [prefix, dir] of this.mounts) {
      if (!urlPath.startsWith(prefix)) continue;
      const p = path.resolve(dir, '.' + path.posix.normalize('/' + urlPath.slice(prefix.length)));
      if (p === dir || p.startsWith(dir + path.sep)) return p;
    }
    return null;
  }

  handle(req, res) {
    const urlPath = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    res.setHeader('Cache-Control', 'no-store');
    const sinkPath = req.method === 'PUT' ? this.sinkPath(urlPath) : null;
    if (sinkPath) {
      const out = createWriteStream(sinkPath);
      req.pipe(out);
      out.on('finish', () => { res.writeHead(204); res.end(); });
      out.on('error', (err) => { res.writeHead(500); res.end(err.message); });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405); res.end(); return;
    }
    const p = this.resolve(urlPath);
    let st;
    try {
      st = p && statSync(p);
    } catch { st = null; }
    if (!st || !st.isFile()) {
      res.writeHead(404); res.end(`not found: ${urlPath}`); return;
    }
    res.writeHead(200, {
      'Content-Type': contentTypes[path.extname(p).toLowerCase()] || 'application/octet-stream',
      'Content-Length': st.size,
    });
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(p).pipe(res);
  }
}

// withBrowser starts the server and Chromium, opens pagePath and calls fn(page, server).
// setup(server) runs before the page opens, to mount folders and register files.
export async function withBrowser({ setup, pagePath, readyExpr, verbose }, fn) {
  const { chromium } = await import(path.join(requirePackage('playwright-core'), 'index.mjs'));
  const executablePath = chromiumPath();
  const server = new Server();
  await server.start();
  setup(server);
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'mpref-chromium-'));
  // Playwright closes Chromium and exits on SIGTERM/SIGINT; remove the profile then too.
  const cleanup = () => rmSync(userDataDir, { recursive: true, force: true });
  process.on('exit', cleanup);
  let context;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: chromiumFlags,
      timeout: 60000,
    });
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(0);
    const pageErrors = [];
    page.on('pageerror', (err) => { pageErrors.push(err); process.stderr.write(`mpref: page error: ${err.message}\n`); });
    page.on('console', (msg) => {
      if (verbose) process.stderr.write(`mpref: page console.${msg.type()}: ${msg.text()}\n`);
    });
    await page.goto(server.origin + pagePath);
    await page.waitForFunction(readyExpr, null, { timeout: 60000 }).catch((err) => {
      const why = pageErrors.length ? pageErrors.map((e) => e.message).join('; ') : err.message;
      throw new Error(`page ${pagePath} did not get ready: ${why}`);
    });
    return await fn(page, server);
  } finally {
    if (context) await context.close().catch(() => {});
    server.close();
    cleanup();
    process.off('exit', cleanup);
  }
}

// main runs an async CLI body and turns errors into one line on stderr and exit status 1
// (2 for usage errors, so callers can tell a bad request from a failed run).
export function main(body) {
  body().then(
    () => process.exit(0),
    (err) => {
      // Stacks only on request: the message already names the request field or model.
      process.stderr.write(`mpref: ${process.env.MPREF_DEBUG && err.stack ? err.stack : err.message}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}

// pageMessage strips Playwright's prefix and the page's stack from an evaluate error.
export function pageMessage(err) {
  return err.message.replace(/^page\.evaluate: (Error: )?/, '').split(/\n\s+at /)[0];
}

export function resolveFrom(base, p, field) {
  if (typeof p !== 'string' || p === '') throw new UsageError(`${field}: want a path string, got ${JSON.stringify(p)}`);
  return path.resolve(base, p);
}
