// Helpers of the browser journeys: the real `ibkey server` on a free loopback port, the
// `ibkey` command line as the phone and as the scanner, headless Chromium (Debian's) through
// playwright-core, and axe-core injected into the page.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const ibkeyBinary = process.env.IBKEY_BIN ?? join(repoRoot, 'target', 'debug', 'ibkey');
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** The demo password of the test users, accepted by a server on loopback only. */
export const DEMO_PASSWORD = 'ibkey-demo';
/** The PIN the phone chooses. */
export const PIN = '4829';
/** The name the desktop "phone" of the command line enrolls under. */
export const DEVICE_NAME = 'ibkey desktop';

/** A fresh temporary folder, removed by `cleanup()`. */
const tempDirs = [];
export function tempDir(label) {
  const dir = mkdtempSync(join(tmpdir(), `ibkey-browser-${label}-`));
  tempDirs.push(dir);
  return dir;
}
export function cleanup() {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Where the journeys put their screenshots: $IBKEY_SCREENSHOTS, else a temporary folder that
 * is kept for a look afterwards.
 */
export function screenshotDir() {
  const dir = process.env.IBKEY_SCREENSHOTS
    ? resolve(repoRoot, process.env.IBKEY_SCREENSHOTS)
    : mkdtempSync(join(tmpdir(), 'ibkey-browser-screenshots-'));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Runs `ibkey args...` to its end within `timeoutMs`, with `stdin` typed in; resolves to
 * { code, stdout, stderr }.
 */
export function ibkey(args, { stdin = '', timeoutMs = 30_000 } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(ibkeyBinary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ibkey ${args.join(' ')} took over ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

/**
 * `ibkey server` on 127.0.0.1 with the port the system picks and a temporary data folder.
 * Resolves to { url, serverKey, home, stop() } once it listens (`home` is the data folder,
 * where `ibkey outbox` reads the codes the server sent).
 */
export async function startServer({ ticketLifetime } = {}) {
  const home = tempDir('server');
  const args = ['--data-dir', home, 'server', '--listen', '127.0.0.1:0'];
  if (ticketLifetime !== undefined) args.push('--ticket-lifetime', String(ticketLifetime));
  const child = spawn(ibkeyBinary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ibkey server did not listen within 20 s:\n${output}`));
    }, 20_000);
    const onData = (d) => {
      output += d;
      const m = output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ibkey server exited (${code}) before listening:\n${output}`));
    });
  });
  const serverKey = readFileSync(join(home, 'server', 'server-key.pub'), 'utf8').trim();
  const exited = new Promise((r) => child.once('exit', r));
  return {
    url,
    serverKey,
    home,
    /** Interrupts the server (as Ctrl-C does); kills it if it has not ended within 5 s. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A phone: its own data folder, trusting `server`'s published key. */
export function phone(server) {
  const home = tempDir('phone');
  const base = ['--data-dir', home, '--server', server.url, '--server-key', server.serverKey];
  return {
    home,
    activateWithQr(image) {
      return ibkey([...base, 'activate', '--qr', image, '--pin-stdin'], { stdin: `${PIN}\n` });
    },
    activateWithSessionId(id) {
      return ibkey([...base, 'activate', '--session-id', id, '--pin-stdin'], { stdin: `${PIN}\n` });
    },
    /**
     * `ibkey approve` with the PIN on stdin: the first login waiting for `user` (or the login
     * of the QR code in the picture `qr`) approved with `number`, denied (`deny`) or reported
     * as not the user's (`reportFraud`).
     */
    approve({ user, number, qr, deny = false, reportFraud = false } = {}) {
      const args = [...base, 'approve', '--pin-stdin'];
      if (user !== undefined) args.push('--user', user);
      if (number !== undefined) args.push('--number', String(number));
      if (qr !== undefined) args.push('--qr', qr);
      if (deny) args.push('--deny');
      if (reportFraud) args.push('--report-fraud');
      return ibkey(args, { stdin: `${PIN}\n` });
    },
    /** `ibkey users`: the users enrolled here, after the notices of accounts moved away. */
    users() {
      return ibkey([...base, 'users']);
    },
    /** `ibkey respond`: the response to a login page's challenge, as the phone shows it. */
    async respond(user, challenge) {
      const result = await ibkey([...base, 'respond', user, challenge, '--pin-stdin'], {
        stdin: `${PIN}\n`,
      });
      assert.equal(result.code, 0, `ibkey respond failed:\n${result.stdout}\n${result.stderr}`);
      const m = result.stdout.match(/Response for \S+: ([\d ]+)/);
      assert.ok(m, `ibkey respond printed no response:\n${result.stdout}`);
      return m[1].trim();
    },
  };
}

/**
 * A phone enrolled for `user` on `server`: signed in to the portal in a browser context of
 * its own (closed afterwards), the session ID read from the activation page and typed on
 * the phone.
 */
export async function enrolledPhone(browser, server, user) {
  return withPage(browser, {}, async (page) => {
    await signIn(page, server.url, user);
    const sessionId = await textOf(page, '#session-id');
    const device = phone(server);
    const activated = await device.activateWithSessionId(sessionId);
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(activated.stdout, new RegExp(`${user} is now enrolled`));
    assert.equal(await statusReaches(page, 'activated'), `Activated on ${DEVICE_NAME}.`);
    return device;
  });
}

/**
 * The newest one-time code `server` sent `user` out of band, as the user's inbox shows it
 * (`ibkey outbox`, which prints `code: 123456` first).
 */
export async function outboxCode(server, user) {
  const result = await ibkey(['--data-dir', server.home, 'outbox', '--user', user]);
  assert.equal(result.code, 0, `ibkey outbox failed:\n${result.stdout}\n${result.stderr}`);
  const m = result.stdout.match(/^code: (\d{6})$/m);
  assert.ok(m, `ibkey outbox printed no code:\n${result.stdout}`);
  return m[1];
}

/** The project's scanner on an image file: { text, activation, code, reason } of `ibkey scan --json`. */
export async function scan(image) {
  const result = await ibkey(['scan', image, '--json'], { timeoutMs: 20_000 });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`ibkey scan printed no JSON (${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** The claims of an activation payload `IBK1.<claims>.<signature>` (not verified: the core does). */
export function payloadClaims(text) {
  const [, claims] = text.split('.');
  return JSON.parse(Buffer.from(claims, 'base64url').toString('utf8'));
}

/** Headless Chromium from the system. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    timeout: 30_000,
    // No network beyond loopback here: no background connections, no QUIC.
    args: [
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/**
 * A new page at `width` x `height` CSS px, recording the console's Content Security Policy
 * complaints and the page's navigations (to tell an update in place from a reload).
 */
export async function newPage(browser, { width = 1280, height = 800 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.cspViolations = [];
  page.navigations = 0;
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) page.cspViolations.push(msg.text());
  });
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) page.navigations += 1;
  });
  return { context, page };
}

/** Runs `body(page)` on a fresh page of `size` in a fresh context, closing it whatever happens. */
export async function withPage(browser, size, body) {
  const { context, page } = await newPage(browser, size);
  try {
    return await body(page);
  } finally {
    await context.close();
  }
}

/** Signs in through the sign-in form as a user would: the labelled fields and the button. */
export async function signIn(page, url, user, password = DEMO_PASSWORD) {
  await page.goto(`${url}/portal/sign-in`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await Promise.all([
    page.waitForURL(/\/portal\/activate$/),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

/** The id of the focused element (or `tag:text` for one without an id). */
export async function focusedElement(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return '';
    return el.id || `${el.tagName.toLowerCase()}:${el.textContent.trim()}`;
  });
}

/** Signs in with the keyboard only: Tab to the user name, type, Tab, type, Enter. */
export async function signInByKeyboard(page, url, user, password = DEMO_PASSWORD) {
  await page.goto(`${url}/portal/sign-in`);
  for (let i = 0; i < 10 && (await focusedElement(page)) !== 'username'; i += 1) {
    await page.keyboard.press('Tab');
  }
  if ((await focusedElement(page)) !== 'username') throw new Error('Tab never reached the user name');
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  if ((await focusedElement(page)) !== 'password') throw new Error('Tab after the user name did not reach the password');
  await page.keyboard.type(password);
  await Promise.all([page.waitForURL(/\/portal\/activate$/), page.keyboard.press('Enter')]);
}

/** The text a user reads in `selector`, whitespace collapsed. */
export async function textOf(page, selector) {
  return ((await page.locator(selector).textContent()) ?? '').replace(/\s+/g, ' ').trim();
}

/**
 * Waits until the status paragraph `selector` (the activation page's by default) is in
 * `state` (its data-state); gives its text.
 */
export async function statusReaches(page, state, timeout = 15_000, selector = '#activation-status') {
  await page.waitForFunction(
    ({ want, sel }) => document.querySelector(sel)?.dataset.state === want,
    { want: state, sel: selector },
    { timeout, polling: 100 },
  );
  return textOf(page, selector);
}

/**
 * Logs in on `/login` as a user would (the labelled fields, the button); resolves once the
 * waiting step with the number to match is shown.
 */
export async function logIn(page, url, user, password = DEMO_PASSWORD) {
  await page.goto(`${url}/login`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await Promise.all([
    page.waitForURL(/\/login\/wait$/),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
}

/** Marks the page so that a reload (which would drop the mark) is seen; gives the navigations so far. */
export async function markPage(page) {
  await page.evaluate(() => {
    window.ibkeyTestMark = 'not reloaded';
  });
  return page.navigations;
}
/** The page was neither reloaded nor navigated since `markPage` gave `navigationsBefore`. */
export async function assertNotReloaded(page, navigationsBefore) {
  assert.equal(await page.evaluate(() => window.ibkeyTestMark), 'not reloaded', 'page reloaded');
  assert.equal(page.navigations, navigationsBefore, 'page navigated');
}

/**
 * As a phone camera sees the monitor: screenshots of the viewport, one after another, each
 * given to the scanner until it reads a QR code (at most `maxFrames`). Gives { read, count,
 * frame }: the scanner's answer, the number of screenshots taken and the last one's file.
 */
export async function readQrFromScreen(page, folder, label, maxFrames = 5) {
  let read = null;
  let frame;
  let count = 0;
  while (!read && count < maxFrames) {
    count += 1;
    frame = join(folder, `${label}-${count}.png`);
    await page.screenshot({ path: frame });
    const result = await scan(frame);
    if (result.text) read = result;
  }
  assert.ok(read, `the scanner read no QR code in ${maxFrames} screenshots`);
  return { read, count, frame };
}

/** Header checks every portal page passes; gives the headers. */
export function assertPortalHeaders(response, what) {
  const headers = response.headers();
  const csp = headers['content-security-policy'] ?? '';
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP ${csp}`);
  assert.match(csp, /script-src 'self'(;|$)/, `${what}: CSP ${csp}`);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, `${what}: CSP ${csp}`);
  assert.equal(headers['x-content-type-options'], 'nosniff', what);
  assert.equal(headers['referrer-policy'], 'no-referrer', what);
  return headers;
}

/** The page fits `width` without horizontal scrolling. */
export async function assertNoHorizontalScroll(page, width, what) {
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= width, `${what}: ${scrollWidth} px wide at a ${width} px viewport`);
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/**
 * axe-core run in the page (evaluated through the DevTools protocol, so the page's CSP stays
 * as it is); gives the violations as { id, impact, help, nodes }.
 */
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const results = await axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}

/** No serious or critical axe-core violation; gives a one-line summary of all of them. */
export async function assertAxe(page, what) {
  const violations = await axeViolations(page);
  const grave = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(grave, [], `${what}: axe-core found serious or critical violations`);
  return violations.length === 0
    ? `${what}: none`
    : `${what}: ${violations.map((v) => `${v.id} (${v.impact})`).join(', ')}`;
}

/** A stopwatch: `lap()` gives the seconds since it started, with one decimal. */
export function stopwatch() {
  const start = process.hrtime.bigint();
  return () => Number((process.hrtime.bigint() - start) / 1_000_000n) / 1000;
}
