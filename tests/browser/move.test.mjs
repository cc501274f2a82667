// The portal's "Move IB Key to a new phone" journeys (issue 15) in headless Chromium against a
// real `ibkey server`, with the `ibkey` command line as the old and the new phone (each its
// own data folder): the account page's link, "Send me a code", the code read from the
// reference server's outbox (`ibkey outbox`, what the user's inbox would show) and typed in,
// the move's QR code read from a screenshot of the page, the new phone activating it, the
// page saying "moved" by itself, the old phone told where its account went, and the account
// page listing the old phone as moved. What a user sees at each step is asserted, and each
// journey is timed. Run by tests/browser/run.sh; $IBKEY_SCREENSHOTS names the folder for the
// README's screenshots.

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
  markPage,
  outboxCode,
  payloadClaims,
  phone,
  readQrFromScreen,
  scan,
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
/** What the move ticket's page says once the new phone is set up. */
const MOVED = `Moved to ${DEVICE_NAME}. Your old phone no longer approves your logins.`;

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
  frames = tempDir('move-frames');
});

after(async () => {
  await browser?.close();
  await server?.stop();
  console.log('\nMove journeys (seconds, Chromium %s):', browser?.version() ?? '?');
  for (const line of report) console.log(`  ${line}`);
  if (axeSummary.length > 0) console.log(`  axe-core ${axeSummary.join('; ')}`);
  console.log(`Screenshots in ${shots}`);
  cleanup();
});

/** From the move's first page: "Send me a code"; gives the code step's response. */
async function sendCode(page) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/portal/move/code')),
    page.getByRole('button', { name: 'Send me a code' }).click(),
  ]);
  await page.waitForURL(/\/portal\/move\/code$/);
  return response;
}

/** Types `code` into the labelled code field and presses "Confirm"; gives the response. */
async function confirmCode(page, code) {
  await page.getByLabel('6-digit code').fill(code);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/portal/move/confirm')),
    page.getByRole('button', { name: 'Confirm' }).click(),
  ]);
  await page.waitForURL(/\/portal\/move\/confirm$/);
  return response;
}

/** The move ticket's page as it opens: its heading, what it replaces, the QR code loaded. */
async function assertMoveTicketPage(page) {
  assert.equal(await page.locator('h1').count(), 1, 'one h1');
  assert.equal(await textOf(page, 'h1'), 'Scan this with your NEW phone');
  assert.match(
    await textOf(page, '#activation-intro'),
    new RegExp(`It replaces ${DEVICE_NAME}: as soon as the new phone is set up, it no longer approves your logins\\.$`),
  );
  assert.equal(await textOf(page, '#activation-status'), 'Waiting for your new phone…');
  const sessionId = await textOf(page, '#session-id');
  assert.match(sessionId, /^[A-Z0-9]{4}(-[A-Z0-9]{4})+$/, `session ID shown grouped: ${sessionId}`);
  assert.match(await textOf(page, '#countdown'), /^\d+:\d\d$/);
  await page.waitForFunction(() => {
    const img = document.querySelector('#activation-qr');
    return img?.complete && img.naturalWidth > 0;
  });
  return sessionId;
}

test('10. alice moves IB Key to a new phone: the code from her inbox typed in, the move QR read from a screenshot, the new phone set up, the page says moved, the old phone is told', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const oldPhone = await enrolledPhone(browser, server, 'alice');
  const enrolledAt = lap();
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    await signIn(page, server.url, 'alice');

    // The account page → "Move IB Key to a new phone".
    await page.goto(`${server.url}/portal/account`);
    await Promise.all([
      page.waitForURL(/\/portal\/move$/),
      page.getByRole('link', { name: 'Move IB Key to a new phone' }).click(),
    ]);
    assert.equal(await page.locator('h1').count(), 1, 'one h1');
    assert.equal(await textOf(page, 'h1'), 'Move IB Key to a new phone');
    assert.match(await textOf(page, 'main'), /Your old phone stops working for IB Key as soon as the new one is set up/);
    assert.match(await textOf(page, 'main'), /we first send a 6-digit code to your e-mail address or phone number/);
    assert.deepEqual(await page.locator('#replaced-devices li').allTextContents(), [DEVICE_NAME]);
    axeSummary.push(await assertAxe(page, 'move'));

    // "Send me a code": where it went, the code field.
    const sent = await sendCode(page);
    assert.equal(sent.status(), 200);
    assert.equal(
      await textOf(page, '#code-sent'),
      'We sent a 6-digit code to a••••@example.test. It works for 10 minutes, once.',
    );
    const field = page.getByLabel('6-digit code');
    assert.equal(await field.getAttribute('inputmode'), 'numeric');
    assert.equal(await field.getAttribute('autocomplete'), 'one-time-code');
    axeSummary.push(await assertAxe(page, 'move code'));
    await page.screenshot({ path: join(shots, 'move-code.png') });
    const code = await outboxCode(server, 'alice');

    // A wrong code first: the same step, an alert with the server's reason.
    const wrong = await confirmCode(page, code === '000000' ? '111111' : '000000');
    assert.equal(wrong.status(), 400);
    assert.equal(await page.locator('#form-error').getAttribute('role'), 'alert');
    assert.match(await textOf(page, '#form-error'), /^This is not the code sent to alice\./);
    assert.match(await textOf(page, '#code-sent'), /^We sent a 6-digit code to a••••@example\.test\./);
    axeSummary.push(await assertAxe(page, 'move code with an error'));

    // The right code: the move's QR code and session ID, as the activation page shows them.
    const right = await confirmCode(page, code);
    assert.equal(right.status(), 200);
    assertPortalHeaders(right, 'the move ticket page');
    assert.match(right.headers()['cache-control'] ?? '', /no-store/, 'move ticket page: Cache-Control');
    const sessionId = await assertMoveTicketPage(page);
    const mark = await markPage(page);
    axeSummary.push(await assertAxe(page, 'move QR'));

    // As the new phone's camera sees the monitor.
    await page.locator('#activation-qr').scrollIntoViewIfNeeded();
    const { read, count, frame } = await readQrFromScreen(page, frames, 'alice-move', MAX_FRAMES);
    assert.equal(read.activation, true);
    const claims = payloadClaims(read.text);
    assert.equal(claims.usr, 'alice');
    assert.deepEqual(claims.mov, [DEVICE_NAME], 'a move ticket replacing the old phone');
    assert.equal(claims.sid, sessionId.replaceAll('-', ''), 'QR and session ID are one ticket');
    await page.screenshot({ path: join(shots, 'move-qr.png') });
    const readAt = lap();

    const newPhone = phone(server);
    const activated = await newPhone.activateWithQr(frame);
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(activated.stdout, new RegExp(`Moved: alice is now enrolled on this device; '${DEVICE_NAME}' no longer approves their logins\\.`));

    // The page turns to "moved" by itself.
    assert.equal(await statusReaches(page, 'moved'), MOVED);
    const movedAt = lap();
    assert.ok(await page.locator('#activation-qr').isHidden(), 'a used code is no longer shown');
    assert.ok(await page.locator('#fresh-code').isHidden(), 'nothing to start again once moved');
    await assertNotReloaded(page, mark);
    assert.deepEqual(page.cspViolations, []);
    axeSummary.push(await assertAxe(page, 'moved'));
    await page.screenshot({ path: join(shots, 'move-done.png'), fullPage: true });

    // The old phone, next time it talks to the server, learns where alice went.
    const pulled = await oldPhone.approve({ user: 'alice' });
    assert.notEqual(pulled.code, 0, `the old phone still approves alice:\n${pulled.stdout}`);
    const users = await oldPhone.users();
    assert.equal(users.code, 0, users.stderr);
    assert.match(users.stdout, new RegExp(`IB Key for alice was moved to '${DEVICE_NAME}' on `));
    assert.match(users.stdout, /No users are enrolled on this device/);

    // The account page: the old phone moved, the new one active.
    await page.goto(`${server.url}/portal/account`);
    const statuses = await page.locator('#devices tbody tr td:nth-child(4)').allTextContents();
    assert.equal(statuses.length, 2, `two devices: ${statuses.join(' | ')}`);
    assert.match(statuses[0], new RegExp(`^moved to ${DEVICE_NAME} on `));
    assert.equal(statuses[1], 'active');
    axeSummary.push(await assertAxe(page, 'account after the move'));
    assert.deepEqual(page.cspViolations, []);
    report.push(`10. move to a new phone: ${lap()} s (old phone activated ${enrolledAt} s; the code sent, typed wrong, then right, and the QR read from the viewport's screenshot number ${count} by ${readAt} s; moved by ${movedAt} s)`);
  });
});

test('11. the move pages: nothing to move without a phone, 360 px, headers, CSRF', { timeout: JOURNEY_TIMEOUT }, async () => {
  const lap = stopwatch();
  const user = 'kate';
  await withPage(browser, { width: 1280, height: 800 }, async (page) => {
    // No phone yet: no link on the account page, and the move page says there is nothing to move.
    await signIn(page, server.url, user);
    await page.goto(`${server.url}/portal/account`);
    assert.equal(await page.getByRole('link', { name: 'Move IB Key to a new phone' }).count(), 0);
    const nothing = await page.goto(`${server.url}/portal/move`);
    assert.equal(nothing.status(), 200);
    assertPortalHeaders(nothing, '/portal/move');
    assert.match(nothing.headers()['cache-control'] ?? '', /no-store/, '/portal/move: Cache-Control');
    assert.match(await textOf(page, '#nothing-to-move'), /There is nothing to move: IB Key is not active on any phone for you\./);
    assert.equal(await page.getByRole('button', { name: 'Send me a code' }).count(), 0);
    axeSummary.push(await assertAxe(page, 'nothing to move'));
    await Promise.all([
      page.waitForURL(/\/portal\/activate$/),
      page.getByRole('link', { name: 'Activate IB Key on your new phone' }).click(),
    ]);

    // The forms refuse a forged CSRF token.
    for (const path of ['/portal/move/code', '/portal/move/confirm']) {
      const forged = await page.request.post(`${server.url}${path}`, {
        form: { csrf: 'forged', code: '123456' },
        maxRedirects: 0,
      });
      assert.equal(forged.status(), 403, `${path} with a wrong CSRF token`);
    }
  });

  // With a phone, at 360 px: one column, no horizontal scroll, the QR at least 300 px wide.
  await enrolledPhone(browser, server, user);
  await withPage(browser, { width: 360, height: 740 }, async (page) => {
    await signIn(page, server.url, user);
    await page.goto(`${server.url}/portal/move`);
    await assertNoHorizontalScroll(page, 360, 'move at 360 px');
    axeSummary.push(await assertAxe(page, 'move at 360 px'));
    await sendCode(page);
    await assertNoHorizontalScroll(page, 360, 'move code at 360 px');
    axeSummary.push(await assertAxe(page, 'move code at 360 px'));
    const right = await confirmCode(page, await outboxCode(server, user));
    assert.equal(right.status(), 200);
    await assertMoveTicketPage(page);
    await assertNoHorizontalScroll(page, 360, 'move QR at 360 px');
    const box = await page.locator('#activation-qr').boundingBox();
    assert.ok(box && box.width >= 300, `QR ${box?.width} px wide at 360 px`);
    axeSummary.push(await assertAxe(page, 'move QR at 360 px'));
    const narrowShot = join(frames, 'move-360.png');
    await page.screenshot({ path: narrowShot, fullPage: true });
    const narrowRead = await scan(narrowShot);
    assert.equal(narrowRead.activation, true, `the move QR at 360 px: ${narrowRead.reason}`);
    assert.deepEqual(payloadClaims(narrowRead.text).mov, [DEVICE_NAME]);
    assert.deepEqual(page.cspViolations, []);
  });
  report.push(`11. move pages without a phone and at 360 px: ${lap()} s`);
});
