// The portal's login journeys (issue 14, second part) in headless Chromium against a real
// `ibkey server`, with the `ibkey` command line as the phone (activated first through the
// portal's activation page): the number to match approved on the phone, a denial and a
// "this wasn't me" report, the login QR code read from a screenshot of the page, the
// challenge/response typed into the page, and the account page with its devices. What a user
// sees at each step is asserted, and each journey is timed. Run by tests/browser/run.sh;
// $IBKEY_SCREENSHOTS names the folder for the README's screenshots.

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
  enrolledPhone,
  launchBrowser,
  logIn,
  markPage,
  payloadClaims,
  readQrFromScreen,
  screenshotDir,
  signIn,
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
const WAITING = 'Waiting for approval on your phone…';

let browser;
let server;
let shots;
let frames;
const report = [];
const axeSummary = [];

before(async () => {
  browser = await launchBrowser();
  server = await startServer();
  shots = screenshotDir();
  frames = tempDir('login-frames');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  console.log('\nLogin journeys (seconds, Chromium %s):', browser?.version() ?? '?');
  for (const line of report) console.log(`  ${line}`);
  if (axeSummary.length > 0) console.log(`  axe-core ${axeSummary.join('; ')}`);
  console.log(`Screenshots in ${shots}`);
  cleanup();
});

/** Waits until the login page's `#login-status` is in `state`; gives its text. */
function loginStatusReaches(page, state, timeout = 15_000) {
  return statusReaches(page, state, timeout, '#login-status');
}

/** What the waiting step shows right after the password: gives the number to match. */
async function assertWaitingPage(page) {
  assert.equal(await page.locator('h1').count(), 1, 'one h1');
  const number = await textOf(page, '#login-number');
  assert.match(number, /^\d{1,2}$/, `the number to match: ${number}`);
  const status = page.locator('#login-status');
  assert.equal(await status.getAttribute('role'), 'status');
  assert.equal(await status.getAttribute('aria-live'), 'polite');
  assert.equal(await status.getAttribute('data-state'), 'waiting');
  assert.equal(await textOf(page, '#login-status'), WAITING);
  assert.equal(await textOf(page, '#use-qr'), 'Log in with QR code');
  assert.equal(await textOf(page, '#use-code'), 'Use a code from the app');
  return Number(number);
}

/** The page went on to `/login/done` by itself and says who is logged in. */
async function assertLoggedIn(page, user) {
  // A page with the live login status (waiting, offline) goes to /login/done by itself once
  // the login is approved; when a form post of the same page is on its way there too, one of
  // the two navigations is aborted (net::ERR_ABORTED). The other still lands: wait for it.
  for (let aborted = 0; ; aborted++) {
    try {
      await page.waitForURL(/\/login\/done$/, { timeout: 15_000 });
      break;
    } catch (e) {
      if (aborted >= 2 || !String(e).includes('ERR_ABORTED')) throw e;
    }
  }
  assert.equal(await textOf(page, 'h1'), 'Logged in');
  assert.equal(await textOf(page, '#logged-in'), `You are logged in as ${user}.`);
}

/** The phone's `ibkey approve` went through and said what it did. */
function assertPhoneSaid(result, what) {
  assert.equal(result.code, 0, `ibkey approve failed:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, what, result.stdout);
}

test('5. log in, the number matched and approved on the phone, the page goes on to "logged in"; the account page lists the phone and revokes it', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const user = 'erin';
  const device = await enrolledPhone(browser, server, user);
  const enrolledAt = lap();
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    await logIn(page, server.url, user);
    const number = await assertWaitingPage(page);
    await page.screenshot({ path: join(shots, 'login-wait.png') });
    const mark = await markPage(page);

    const approved = await device.approve({ user, number });
    assertPhoneSaid(approved, new RegExp(`Login for ${user} to Client Portal[\\s\\S]*Login of ${user} approved`));

    // Nobody reloads: the page's own script goes on to /login/done.
    await assertLoggedIn(page, user);
    assert.equal(page.navigations, mark + 1, 'one navigation, to /login/done');
    await page.screenshot({ path: join(shots, 'logged-in.png') });
    assert.deepEqual(page.cspViolations, []);
    const loggedInAt = lap();

    // The approval signed the browser in to the portal: the account page.
    const account = await page.goto(`${server.url}/portal/account`);
    assert.equal(account.status(), 200);
    assertPortalHeaders(account, 'account');
    assert.equal(await page.locator('h1').count(), 1, 'one h1');
    const devices = page.locator('#devices tbody tr');
    assert.equal(await devices.count(), 1, 'one device');
    const cells = (await page.locator('#devices tbody tr td').allTextContents()).map((c) => c.trim());
    assert.equal(cells[0], DEVICE_NAME, `the device row: ${cells.join(' | ')}`);
    assert.match(cells[1], /UTC|\d/, `enrolled: ${cells[1]}`);
    assert.notEqual(cells[2], 'never', 'last used: the approval');
    assert.equal(cells[3], 'active', `status: ${cells[3]}`);
    assert.match(await textOf(page, '#activity'), /Client Portal/, 'the approved login listed');
    assert.equal(await page.locator('#fraud-reports').count(), 1, 'the fraud reports table');
    await page.screenshot({ path: join(shots, 'account.png'), fullPage: true });
    axeSummary.push(await assertAxe(page, 'account'));
    await page.setViewportSize({ width: 360, height: 740 });
    await assertNoHorizontalScroll(page, 360, 'account at 360 px');
    axeSummary.push(await assertAxe(page, 'account at 360 px'));
    await page.setViewportSize({ width: 1280, height: 800 });

    // "Revoke": back on the account page, the device gone; the phone can approve no more.
    await Promise.all([
      page.waitForURL(/\/portal\/account$/),
      page.locator('#devices tbody tr').getByRole('button', { name: 'Revoke' }).click(),
    ]);
    assert.equal(await page.locator('#devices').getByRole('button', { name: 'Revoke' }).count(), 0);
    assert.doesNotMatch(await textOf(page, '#devices'), new RegExp(DEVICE_NAME));
    assert.match(await textOf(page, '#devices'), /No device is activated/);
    assert.deepEqual(page.cspViolations, []);
    report.push(
      `5. number matched and approved: ${loggedInAt} s (of which activating the phone ${enrolledAt} s); with the account page and Revoke ${lap()} s`,
    );
  });
});

test('6. a denial on the phone shows the denial; a "this wasn\'t me" report shows the paused notifications, and the account page the report', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const user = 'frank';
  const device = await enrolledPhone(browser, server, user);
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    await logIn(page, server.url, user);
    await assertWaitingPage(page);
    let mark = await markPage(page);
    assertPhoneSaid(await device.approve({ user, deny: true }), new RegExp(`Login of ${user} denied`));
    assert.equal(await loginStatusReaches(page, 'denied'), 'The login was denied on your phone.');
    await assertNotReloaded(page, mark);
    assert.match(page.url(), /\/login\/wait$/);

    // A new login; the phone reports it as not the user's.
    await logIn(page, server.url, user);
    await assertWaitingPage(page);
    mark = await markPage(page);
    assertPhoneSaid(
      await device.approve({ user, reportFraud: true }),
      new RegExp(`Login of ${user} denied and reported as fraud`),
    );
    const fraud = await loginStatusReaches(page, 'fraud');
    assert.match(
      fraud,
      /^The login was reported on your phone as not yours\. Notifications to your phone are paused until .+\.$/,
      fraud,
    );
    await assertNotReloaded(page, mark);
    await page.screenshot({ path: join(frames, 'login-fraud.png') });

    // The next login says the phone's notifications are paused and points to the QR code.
    await logIn(page, server.url, user);
    assert.match(await textOf(page, '#login-paused'), /paused[\s\S]*QR code/, 'the mute on the next login');
    assert.equal(await textOf(page, '#use-qr'), 'Log in with QR code');

    // The account page lists the report.
    await signIn(page, server.url, user);
    await page.goto(`${server.url}/portal/account`);
    const reported = (await page.locator('#fraud-reports tbody tr td').allTextContents()).map((c) => c.trim());
    assert.ok(reported.includes(DEVICE_NAME), `the fraud report listed: ${reported.join(' | ')}`);
    assert.match(await textOf(page, '#activity'), /denied/, 'the denial listed');
    assert.deepEqual(page.cspViolations, []);
  });
  report.push(`6. denied, then reported as fraud (the next login paused, the report on the account page): ${lap()} s`);
});

test('7. "Log in with QR code": the QR read from a screenshot of the page, approved from it on the phone', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const user = 'grace';
  const device = await enrolledPhone(browser, server, user);
  let frameCount = 0;
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    await logIn(page, server.url, user);
    await assertWaitingPage(page);
    await Promise.all([page.waitForURL(/\/login\/qr$/), page.getByRole('link', { name: 'Log in with QR code' }).click()]);
    assert.equal(await page.locator('h1').count(), 1, 'one h1');
    const img = page.locator('#login-qr');
    assert.equal(await img.getAttribute('alt'), 'QR code to scan with IB Key');
    await page.waitForFunction(() => {
      const el = document.querySelector('#login-qr');
      return el?.complete && el.naturalWidth > 0;
    });
    assert.equal(await page.locator('#login-status').getAttribute('data-state'), 'waiting');
    const box = await img.boundingBox();
    assert.ok(box && box.width >= 300, `the login QR ${box?.width} px wide`);
    const mark = await markPage(page);

    // As a phone camera sees the monitor: the viewport, frame after frame until read.
    await img.scrollIntoViewIfNeeded();
    const { read, count, frame } = await readQrFromScreen(page, frames, 'login-qr', MAX_FRAMES);
    frameCount = count;
    const claims = payloadClaims(read.text);
    assert.equal(claims.typ, 'login', `a login QR code: ${JSON.stringify(claims)}`);

    const approved = await device.approve({ qr: frame });
    assertPhoneSaid(approved, new RegExp(`Login for ${user} to Client Portal[\\s\\S]*Login of ${user} approved`));
    await assertLoggedIn(page, user);
    assert.equal(page.navigations, mark + 1, 'one navigation, to /login/done');
    assert.deepEqual(page.cspViolations, []);
    report.push(
      `7. QR login from a screenshot: ${lap()} s (read from the 1280x800 viewport's screenshot number ${frameCount}; ${read.text.length} characters)`,
    );
  });
});

test('8. "Use a code from the app": a wrong response refused, the phone\'s response typed into the page logs in', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const user = 'heidi';
  const device = await enrolledPhone(browser, server, user);
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    await logIn(page, server.url, user);
    await assertWaitingPage(page);
    await Promise.all([
      page.waitForURL(/\/login\/offline$/),
      page.getByRole('link', { name: 'Use a code from the app' }).click(),
    ]);
    assert.equal(await page.locator('h1').count(), 1, 'one h1');
    const challenge = await textOf(page, '#offline-challenge');
    assert.match(challenge, /^\d[\d ]*\d$/, `the challenge: ${challenge}`);
    const response = await device.respond(user, challenge);
    assert.match(response, /^\d{4} \d{4}$/, `the phone's response: ${response}`);
    const digits = response.replaceAll(' ', '');

    // A wrong response first: the form again, with the error.
    const wrong = digits.slice(0, -1) + String((Number(digits.at(-1)) + 1) % 10);
    await page.getByLabel('Response from the app').fill(wrong);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/login/offline')),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
    assert.ok(refused.status() >= 400 && refused.status() < 500, `a wrong response: ${refused.status()}`);
    const error = page.locator('#form-error');
    await error.waitFor();
    assert.equal(await error.getAttribute('role'), 'alert');
    assert.ok((await textOf(page, '#form-error')).length > 10, 'the error says what to do');
    axeSummary.push(await assertAxe(page, '/login/offline with an error'));

    // The right one, as the phone shows it, typed by the keyboard.
    const again = await textOf(page, '#offline-challenge');
    const right = again === challenge ? response : await device.respond(user, again);
    await page.getByLabel('Response from the app').fill('');
    await page.getByLabel('Response from the app').pressSequentially(right);
    await page.keyboard.press('Enter');
    await assertLoggedIn(page, user);
    assert.deepEqual(page.cspViolations, []);
  });
  report.push(`8. challenge/response typed in: ${lap()} s`);
});

test('9. the login pages: axe-core, 360 and 1920 px, headers (no-store where codes show), the login cookie, CSRF', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const user = 'ivan';
  await enrolledPhone(browser, server, user);
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    const form = await page.goto(`${server.url}/login`);
    assert.equal(form.status(), 200);
    assertPortalHeaders(form, '/login');
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    assert.equal(await page.locator('main').count(), 1, 'one main');
    assert.equal(await page.locator('h1').count(), 1, 'one h1');
    axeSummary.push(await assertAxe(page, '/login'));

    // A wrong password: the form again, 401, an alert.
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill('not-the-password');
    const [wrong] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/login')),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
    assert.equal(wrong.status(), 401);
    await page.locator('#form-error').waitFor();
    assert.equal(await page.locator('#form-error').getAttribute('role'), 'alert');
    axeSummary.push(await assertAxe(page, '/login with an error'));

    await logIn(page, server.url, user);
    const cookies = await page.context().cookies(`${server.url}/login`);
    const loginCookie = cookies.find((c) => c.name === 'ibkey_login');
    assert.ok(loginCookie, `the login cookie: ${cookies.map((c) => c.name).join(', ')}`);
    assert.equal(loginCookie.httpOnly, true, 'login cookie HttpOnly');
    assert.equal(loginCookie.sameSite, 'Strict', 'login cookie SameSite=Strict');
    assert.equal(loginCookie.path, '/login', 'login cookie Path=/login');
    assert.doesNotMatch(page.url(), new RegExp(loginCookie.value.split('.')[0]), 'no login id in the URL');

    for (const path of ['/login/wait', '/login/qr', '/login/offline']) {
      await page.setViewportSize({ width: 1280, height: 800 });
      const response = await page.goto(`${server.url}${path}`);
      assert.equal(response.status(), 200, path);
      const headers = assertPortalHeaders(response, path);
      assert.match(headers['cache-control'] ?? '', /no-store/, `${path}: Cache-Control`);
      assert.equal(await page.locator('main').count(), 1, `${path}: one main`);
      assert.equal(await page.locator('h1').count(), 1, `${path}: one h1`);
      axeSummary.push(await assertAxe(page, path));
      await page.setViewportSize({ width: 360, height: 740 });
      await assertNoHorizontalScroll(page, 360, `${path} at 360 px`);
      axeSummary.push(await assertAxe(page, `${path} at 360 px`));
      await page.setViewportSize({ width: 1920, height: 1080 });
      await assertNoHorizontalScroll(page, 1920, `${path} at 1920 px`);
    }
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(`${server.url}/login`);
    await assertNoHorizontalScroll(page, 360, '/login at 360 px');

    // The response form posted without the login's CSRF token is refused.
    const forged = await page.request.post(`${server.url}/login/offline`, {
      form: { csrf: 'forged', response: '12345678' },
      maxRedirects: 0,
    });
    assert.equal(forged.status(), 403, 'POST with a wrong CSRF token');
    // Not approved: /login/done sends the browser back to the waiting step.
    await page.goto(`${server.url}/login/done`);
    assert.match(page.url(), /\/login\/wait$/, '/login/done only for an approved login');
    assert.deepEqual(page.cspViolations, []);
  });
  report.push(`9. login pages' accessibility, widths, headers: ${lap()} s`);
});
