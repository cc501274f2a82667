// The portal's activation journeys in headless Chromium against a real `ibkey server`, with
// the `ibkey` command line as the phone: what a user sees at each step is asserted, and each
// journey is timed. Run by tests/browser/run.sh (which builds the binary and installs the
// packages); $IBKEY_SCREENSHOTS names the folder for the README's screenshots.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';

import {
  DEVICE_NAME,
  assertAxe,
  assertNoHorizontalScroll,
  assertNotReloaded,
  assertPortalHeaders,
  cleanup,
  launchBrowser,
  markPage,
  payloadClaims,
  phone,
  readQrFromScreen,
  scan,
  screenshotDir,
  focusedElement,
  signIn,
  signInByKeyboard,
  startServer,
  statusReaches,
  stopwatch,
  tempDir,
  textOf,
  withPage,
} from './lib.mjs';

const JOURNEY_TIMEOUT = 90_000;
/** Screenshots of the viewport the scanner gets before the test gives up. */
const MAX_FRAMES = 5;

let browser;
let server;
let shots;
let frames;
const report = [];

before(async () => {
  browser = await launchBrowser();
  server = await startServer();
  shots = screenshotDir();
  frames = tempDir('frames');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  console.log('\nBrowser journeys (seconds, Chromium %s):', browser?.version() ?? '?');
  for (const line of report) console.log(`  ${line}`);
  console.log(`Screenshots in ${shots}`);
  cleanup();
});

/** What the activation page shows right after it opened. */
async function assertFreshActivationPage(page) {
  assert.equal(await page.locator('h1').count(), 1, 'one h1');
  assert.match(await textOf(page, '#activation-status'), /^Waiting for your phone/);
  assert.equal(await page.locator('#activation-status').getAttribute('role'), 'status');
  const sessionId = await textOf(page, '#session-id');
  assert.match(sessionId, /^[A-Z0-9]{4}(-[A-Z0-9]{4})+$/, `session ID shown grouped: ${sessionId}`);
  assert.match(await textOf(page, '#countdown'), /^\d+:\d\d$/);
  assert.equal(
    await page.locator('#activation-qr').getAttribute('alt'),
    'QR code to scan with IB Key',
  );
  await page.waitForFunction(() => {
    const img = document.querySelector('#activation-qr');
    return img?.complete && img.naturalWidth > 0;
  });
  return sessionId;
}

test('1. sign in, the QR read from a screenshot of the page, activated through the core, the page says so', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    await signIn(page, server.url, 'alice');
    const sessionId = await assertFreshActivationPage(page);
    const mark = await markPage(page);
    const countdown = await textOf(page, '#countdown');
    await page.waitForFunction(
      (before) => document.querySelector('#countdown')?.textContent.trim() !== before,
      countdown,
      { timeout: 5_000 },
    );

    // As a phone camera sees the monitor: the whole viewport, frame after frame until read.
    await page.locator('#activation-qr').scrollIntoViewIfNeeded();
    const { read, count, frame } = await readQrFromScreen(page, frames, 'alice', MAX_FRAMES);
    assert.equal(read.activation, true);
    const claims = payloadClaims(read.text);
    assert.equal(claims.usr, 'alice');
    assert.equal(claims.sid, sessionId.replaceAll('-', ''), 'QR and session ID are one ticket');
    await page.screenshot({ path: join(shots, 'activation-1280.png') });

    const activated = await phone(server).activateWithQr(frame);
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(activated.stdout, /alice is now enrolled/);

    assert.equal(await statusReaches(page, 'activated'), `Activated on ${DEVICE_NAME}.`);
    assert.ok(await page.locator('#activation-qr').isHidden(), 'a used code is no longer shown');
    await assertNotReloaded(page, mark);
    assert.deepEqual(page.cspViolations, []);
    await page.screenshot({ path: join(shots, 'activated.png'), fullPage: true });
    report.push(`1. QR from a screenshot: ${lap()} s (read from the 1280x800 viewport's screenshot number ${count}; ${read.text.length} characters)`);
  });
});

test('2. signed in with the keyboard only, the session ID read from the page and typed on the device', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    await signInByKeyboard(page, server.url, 'bob');
    const sessionId = await assertFreshActivationPage(page);
    const mark = await markPage(page);

    const activated = await phone(server).activateWithSessionId(sessionId);
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(activated.stdout, /bob is now enrolled/);

    assert.equal(await statusReaches(page, 'activated'), `Activated on ${DEVICE_NAME}.`);
    await assertNotReloaded(page, mark);
    assert.deepEqual(page.cspViolations, []);
    report.push(`2. session ID typed: ${lap()} s`);
  });
});

test('3. an expired activation page says so, and a fresh code works', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const lifetime = 5;
  const shortLived = await startServer({ ticketLifetime: lifetime });
  try {
    await withPage(browser, { width: 1280, height: 800 }, async (page) => {
      await signIn(page, shortLived.url, 'carol');
      const expiredId = await assertFreshActivationPage(page);
      const mark = await markPage(page);

      const status = await statusReaches(page, 'expired', (lifetime + 10) * 1000);
      assert.equal(status, 'This code expired. Get a fresh code.');
      await page.waitForFunction(
        () => document.querySelector('#countdown')?.textContent.trim() === '0:00',
        null,
        { timeout: 3_000 },
      );
      await assertNotReloaded(page, mark);

      const device = phone(shortLived);
      const refused = await device.activateWithSessionId(expiredId);
      assert.notEqual(refused.code, 0, 'the expired session ID was accepted');
      assert.match(refused.stderr, /expired/i);

      await Promise.all([
        page.waitForURL(/\/portal\/activate$/),
        page.getByRole('button', { name: 'Get a fresh code' }).click(),
      ]);
      const freshId = await assertFreshActivationPage(page);
      assert.notEqual(freshId, expiredId, 'a new session ID');
      const activated = await device.activateWithSessionId(freshId);
      assert.equal(activated.code, 0, activated.stderr);
      assert.equal(await statusReaches(page, 'activated'), `Activated on ${DEVICE_NAME}.`);
      assert.deepEqual(page.cspViolations, []);
    });
  } finally {
    await shortLived.stop();
  }
  report.push(`3. expired, then a fresh code: ${lap()} s (ticket lifetime ${lifetime} s)`);
});

async function qrBox(page) {
  const box = await page.locator('#activation-qr').boundingBox();
  assert.ok(box, 'the QR code is shown');
  return box;
}

test('4. accessibility (axe-core, keyboard, focus), 360 and 1920 px widths, the QR size, headers, cookies and CSRF', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const axeSummary = [];
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    // Not signed in: the root and the activation page lead to the sign-in page.
    await page.goto(`${server.url}/`);
    assert.match(page.url(), /\/portal\/sign-in$/, 'the root leads to sign-in');
    await page.goto(`${server.url}/portal/activate`);
    assert.match(page.url(), /\/portal\/sign-in$/, 'the activation page asks to sign in first');

    // Sign-in page: headers, labels, keyboard order, visible focus, axe.
    const signInResponse = await page.goto(`${server.url}/portal/sign-in`);
    assert.equal(signInResponse.status(), 200);
    assertPortalHeaders(signInResponse, 'sign-in');
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.equal(await page.locator('main').count(), 1, 'one main');
    assert.equal(await page.locator('h1').count(), 1, 'one h1');
    await page.screenshot({ path: join(shots, 'sign-in.png') });
    axeSummary.push(await assertAxe(page, 'sign-in'));

    const ring = (selector) =>
      page.evaluate((sel) => {
        const style = getComputedStyle(document.querySelector(sel));
        return `${style.outlineStyle} ${style.outlineWidth} ${style.outlineColor} ${style.boxShadow} ${style.borderColor}`;
      }, selector);
    const unfocused = await ring('#username');
    const order = [];
    for (let i = 0; i < 12 && order.length < 3; i += 1) {
      await page.keyboard.press('Tab');
      const focused = await focusedElement(page);
      if (focused === 'username') {
        assert.notEqual(await ring('#username'), unfocused, 'the focus is visible');
      }
      if (['username', 'password', 'button:Sign in'].includes(focused) && !order.includes(focused)) {
        order.push(focused);
      }
    }
    assert.deepEqual(order, ['username', 'password', 'button:Sign in'], 'keyboard order');

    // A wrong password: the same page, 401, an alert saying what to do.
    await page.getByLabel('User name').fill('dave');
    await page.getByLabel('Password').fill('not-the-password');
    const [wrong] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/portal/sign-in')),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    assert.equal(wrong.status(), 401);
    const error = page.locator('#form-error');
    await error.waitFor();
    assert.equal(await error.getAttribute('role'), 'alert');
    assert.ok((await textOf(page, '#form-error')).length > 10, 'the error says what to do');
    axeSummary.push(await assertAxe(page, 'sign-in with an error'));

    // The sign-in page at 360 px.
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${server.url}/portal/sign-in`);
    await assertNoHorizontalScroll(page, 360, 'sign-in at 360 px');

    // Signed in: the session cookie, then the activation page.
    await page.setViewportSize({ width: 1280, height: 800 });
    await signIn(page, server.url, 'dave');
    const cookies = await page.context().cookies(server.url);
    assert.ok(cookies.length > 0, 'a session cookie');
    for (const c of cookies) {
      assert.equal(c.httpOnly, true, `cookie ${c.name} HttpOnly`);
      assert.equal(c.sameSite, 'Strict', `cookie ${c.name} SameSite=Strict`);
    }

    const activation = await page.goto(`${server.url}/portal/activate`);
    assert.equal(activation.status(), 200);
    const headers = assertPortalHeaders(activation, 'activation');
    assert.match(headers['cache-control'] ?? '', /no-store/, 'activation page: Cache-Control');
    await assertFreshActivationPage(page);
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.equal(await page.locator('main').count(), 1, 'one main');
    axeSummary.push(await assertAxe(page, 'activation'));
    assert.ok((await qrBox(page)).width >= 300, 'QR at least 300 px wide at 1280 px');

    // A form posted without the session's CSRF token is refused.
    const forged = await page.request.post(`${server.url}/portal/activate/fresh`, {
      form: { csrf: 'forged' },
      maxRedirects: 0,
    });
    assert.equal(forged.status(), 403, 'POST with a wrong CSRF token');

    // 360 px: one column, no horizontal scroll, the QR still at least 300 px, the session ID large.
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${server.url}/portal/activate`);
    await assertFreshActivationPage(page);
    await assertNoHorizontalScroll(page, 360, 'activation at 360 px');
    const narrow = await qrBox(page);
    assert.ok(narrow.width >= 300, `QR ${narrow.width} px wide at 360 px`);
    axeSummary.push(await assertAxe(page, 'activation at 360 px'));
    const narrowShot = join(frames, 'activation-360.png');
    await page.screenshot({ path: narrowShot, fullPage: true });
    const narrowRead = await scan(narrowShot);
    assert.equal(narrowRead.activation, true, `the QR at 360 px: ${narrowRead.reason}`);
    await page.screenshot({ path: join(shots, 'activation-360.png'), fullPage: true });

    // 1920 px: the QR and the session ID in view without scrolling, legible sizes.
    await page.setViewportSize({ width: 1920, height: 1080 });
    await assertNoHorizontalScroll(page, 1920, 'activation at 1920 px');
    const wide = await qrBox(page);
    assert.ok(wide.width >= 300, `QR ${wide.width} px wide at 1920 px`);
    assert.ok(wide.y >= 0 && wide.y + wide.height <= 1080, 'QR in view at 1920x1080');
    const wideShot = join(frames, 'activation-1920.png');
    await page.screenshot({ path: wideShot });
    const wideRead = await scan(wideShot);
    assert.equal(wideRead.activation, true, `the QR at 1920 px: ${wideRead.reason}`);
    const sizes = await page.evaluate(() => ({
      body: parseFloat(getComputedStyle(document.body).fontSize),
      sessionId: parseFloat(getComputedStyle(document.querySelector('#session-id')).fontSize),
      font: getComputedStyle(document.querySelector('#session-id')).fontFamily,
    }));
    assert.ok(sizes.body >= 14, `body text ${sizes.body} px`);
    assert.ok(sizes.sessionId >= 20, `session ID ${sizes.sessionId} px`);
    assert.match(sizes.font, /mono/i, `session ID font ${sizes.font}`);
    assert.deepEqual(page.cspViolations, []);
  });
  report.push(`4. accessibility, widths, headers: ${lap()} s (the QR also read from the 360 px full page and the 1920x1080 viewport)`);
  report.push(`   axe-core ${axeSummary.join('; ')}`);
});
