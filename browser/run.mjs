// insyn's pages in a real headless Chromium, driven by Playwright: a citizen submits a request
// (and the same one again), asks for a new code too soon, opens the request from the key page with
// a whole pasted link, reads the code from the real SMTP server's mailbox, verifies, and downloads
// the package; an officer works requests through the queue (a refused action told in Swedish, a
// note read back in the history), computes, amends and approves an erasure plan, and closes a
// take-down; a citizen withdraws a request, ticking the box. axe-core runs on every page: any
// serious or critical violation fails.
// Screenshots of every page at 1280, 375 and 320 px go to $SHOTS.
//
// Environment: BASE (the service), MAILDIR (aiosmtpd's maildir), OFFICER and ADMIN (API tokens),
// SHOTS (a directory), CHROMIUM (default /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
const AXE = require.resolve('axe-core/axe.min.js');
const { BASE, MAILDIR, OFFICER, ADMIN, SHOTS } = process.env;
for (const [k, v] of Object.entries({ BASE, MAILDIR, OFFICER, ADMIN, SHOTS })) {
  if (!v) throw new Error(`${k} is not set`);
}
fs.mkdirSync(SHOTS, { recursive: true });

const failures = [];
let checked = 0;

async function api(method, url, token, body) {
  const r = await fetch(BASE + url, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** axe-core on the page as it is, and screenshots at both widths. */
async function check(page, name) {
  checked += 1;
  await page.addScriptTag({ path: AXE });
  const result = await page.evaluate(async () =>
    // WCAG 2.1 A and AA, which DOS-lagen requires, and axe's best practices.
    await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad) {
    failures.push(`${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join('; ')}`);
  }
  const lang = await page.getAttribute('html', 'lang');
  assert.ok(lang === 'sv' || lang === 'en', `${name}: <html lang> is ${lang}`);
  for (const width of [1280, 375, 320]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: path.join(SHOTS, `${name}-${width}.png`), fullPage: true });
    // Nothing wider than the screen at 375 or 320 px (WCAG 1.4.10 reflow: 320 CSS px), but for
    // tables in their own scrolling region.
    if (width < 1280) {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      if (overflow > 1) failures.push(`${name}: the page is ${overflow}px wider than a ${width}px screen`);
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  const text = await page.textContent('body');
  assert.ok(!/problem\+json|stack backtrace|panicked/i.test(text), `${name}: shows a raw error`);
}

/** The contrast ratio of two CSS colours `rgb(r, g, b)` (WCAG 2.1's formula). */
function contrast(a, b) {
  const lum = (c) => {
    const [r, g, bl] = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

/** Every focusable thing in the header (and the skip link, shown over it) has a focus ring of
 * at least 3:1 against the header's blue (WCAG 1.4.11). */
async function headerFocus(page, name) {
  const rings = await page.evaluate(() => {
    const header = getComputedStyle(document.querySelector('header.top')).backgroundColor;
    return [...document.querySelectorAll('header.top a, header.top button, a.skip')].map((el) => {
      el.focus();
      const s = getComputedStyle(el);
      const ring = { what: el.textContent.trim(), style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor, header };
      el.blur();
      return ring;
    });
  });
  assert.ok(rings.length >= 2, `${name}: the header has links`);
  for (const r of rings) {
    const ratio = contrast(r.color, r.header);
    if (r.style === 'none' || r.width < 2 || ratio < 3) {
      failures.push(`${name}: the focus ring of "${r.what}" in the header is ${r.style} ${r.width}px ${r.color}, ${ratio.toFixed(1)}:1 against ${r.header}`);
    }
  }
}

/** The mails in the maildir to `to`, newest last, as decoded text. */
function mails(to) {
  const dir = path.join(MAILDIR, 'new');
  if (!fs.existsSync(dir)) return [];
  const files = fs.readdirSync(dir).map((f) => path.join(dir, f)).sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
  const out = [];
  for (const f of files) {
    const decoded = execFileSync('python3', ['-c', `
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
body = m.get_body(preferencelist=('plain',))
print(m['To'])
print(m['Subject'])
print(body.get_content() if body else '')
`, f]).toString();
    const [rcpt, subject, ...rest] = decoded.split('\n');
    if (rcpt.includes(to)) out.push({ subject, text: rest.join('\n') });
  }
  return out;
}

/** The reference of the request whose status page is `url`, read through the API's view. */
async function citizenReference(url) {
  const u = new URL(url);
  const id = u.pathname.split('/').pop();
  const r = await fetch(`${BASE}/api/v1/requests/${id}`, { headers: { authorization: `Bearer ${u.searchParams.get('token')}` } });
  if (!r.ok) throw new Error(`the request behind ${u.pathname}: ${r.status}`);
  return (await r.json()).reference;
}

async function waitFor(fn, what, ms = 20000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function codeFor(to, after = 0) {
  return waitFor(() => {
    const found = mails(to).slice(after).map((m) => m.text.match(/\b(\d{8})\b/)).filter(Boolean);
    return found.length ? found[found.length - 1][1] : null;
  }, `a code mailed to ${to}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
});
// The pages forbid scripts (CSP); axe-core is a test's script, so the test's pages may run it.
const citizenCtx = await browser.newContext({ bypassCSP: true, acceptDownloads: true });
const officerCtx = await browser.newContext({ bypassCSP: true });
const citizen = await citizenCtx.newPage();
const officer = await officerCtx.newPage();

try {
  // The archive: Anna (501) commented and reacted on the municipality's page.
  const page = '1234567890321';
  const channel = await api('POST', '/api/v1/channels', ADMIN, { platform: 'facebook', account_id: page, name: 'Kommunen' });
  await api('POST', `/api/v1/imports?channel=${channel.id}`, ADMIN, {
    id: `${page}_1`, from: { id: page, name: 'Kommunen' }, message: 'Nu öppnar badet', created_time: '2024-03-01T10:00:00+0000',
    reactions: { data: [{ id: '501', name: 'Anna Andersson', type: 'LIKE' }] },
    comments: { data: [{ id: '1_10', from: { id: '501', name: 'Anna Andersson' }, message: 'Äntligen!', created_time: '2024-03-01T11:00:00+0000' }] },
  });
  await api('POST', '/api/v1/disposal-decisions', ADMIN, {
    reference: 'KS 2024-0456', title: 'Gallring av reaktioner', decided_on: '2024-05-01', rules: [{ kind: 'reaction', keep: 'P0D' }],
  });

  // ---- The citizen asks for access ----
  await citizen.goto(BASE + '/');
  assert.equal(await citizen.getAttribute('html', 'lang'), 'sv');
  await check(citizen, 'home');
  await headerFocus(citizen, 'home');
  // An empty form: every error next to its field, in a summary that links to them; input kept.
  await citizen.fill('#email', 'inte-en-adress');
  await citizen.click('button[type=submit]');
  assert.match(await citizen.textContent('.summary'), /Något behöver rättas/);
  assert.equal(await citizen.getAttribute('#email', 'aria-invalid'), 'true');
  assert.equal(await citizen.inputValue('#email'), 'inte-en-adress');
  assert.ok(await citizen.isVisible('#account0-error'));
  await check(citizen, 'home-errors');
  // The same form, in English.
  await citizen.click('a[hreflang=en]');
  assert.equal(await citizen.getAttribute('html', 'lang'), 'en');
  await citizen.click('a[hreflang=sv]');

  await citizen.check('#type-access');
  await citizen.fill('#email', 'anna@example.se');
  await citizen.selectOption('#platform0', 'facebook');
  await citizen.fill('#account0', '501');
  await citizen.click('button[type=submit]');
  await citizen.waitForURL(/\/requests\/\d+\?token=/);
  const statusUrl = citizen.url();
  assert.match(await citizen.textContent('h1'), /DSR-\d{4}-\d{6}/);
  assert.match(await citizen.textContent('main'), /skriv in den nedan/);
  await check(citizen, 'status-new');
  // The link to keep says nothing of what just happened: opened again, the thanks are not repeated.
  assert.doesNotMatch(statusUrl, /submitted|done=/);
  await citizen.goto(statusUrl);
  assert.equal(await citizen.locator('.flash').count(), 0, 'a saved link repeats the flash');

  // The same request again (a double tap, or a second try): a receipt, not an error.
  await citizen.goto(BASE + '/');
  await citizen.check('#type-access');
  await citizen.fill('#email', 'anna@example.se');
  await citizen.selectOption('#platform0', 'facebook');
  await citizen.fill('#account0', '501');
  await citizen.click('button[type=submit]');
  assert.match(await citizen.textContent('h1'), /redan mottagen/);
  assert.match(await citizen.textContent('main'), new RegExp((await citizenReference(statusUrl))));
  assert.equal(await citizen.locator('[role=alert]').count(), 0, 'a duplicate is no error');
  await check(citizen, 'duplicate');

  // A new code at once is too soon: told at the top of the page, in Swedish.
  await citizen.goto(statusUrl);
  await citizen.click('form[action*="/code"] button');
  assert.match(await citizen.textContent('[role=alert]'), /Vänta \d+ sekunder innan du ber om en ny kod/);
  await check(citizen, 'status-code-too-soon');

  // The link without its key (as later mails have it) asks for the key; a whole link pasted in
  // its field opens the request, at the link's own clean address.
  const bare = statusUrl.split('?')[0];
  await citizen.goto(bare);
  assert.match(await citizen.textContent('h1'), /Öppna ditt ärende/);
  await check(citizen, 'key');
  await citizen.fill('#token', ` ${statusUrl} `);
  await citizen.click('form[action^="/requests/"] button');
  await citizen.waitForURL(/\/requests\/\d+\?token=dsr_/);
  assert.equal(new URL(citizen.url()).searchParams.get('token'), new URL(statusUrl).searchParams.get('token'));
  assert.match(await citizen.textContent('h1'), /DSR-\d{4}-\d{6}/);

  // A wrong code is told next to the field; the mailed one confirms the address.
  const code = await codeFor('anna@example.se');
  await citizen.fill('#code', code === '00000000' ? '11111111' : '00000000');
  await citizen.click('form[action*="/verify"] button');
  assert.match(await citizen.textContent('#code-error'), /Koden stämmer inte/);
  assert.equal(await citizen.getAttribute('#code', 'aria-invalid'), 'true');
  await check(citizen, 'status-code-wrong');
  await citizen.fill('#code', code);
  await citizen.click('form[action*="/verify"] button');
  assert.match(await citizen.textContent('.flash'), /bekräftad/);
  await check(citizen, 'status-verified');
  // Confirming the address gives the request a new link, this page's, mailed too; the link
  // given at submission (which whoever submitted saw) stops working.
  const confirmedUrl = citizen.url();
  assert.notEqual(new URL(confirmedUrl).searchParams.get('token'), new URL(statusUrl).searchParams.get('token'));
  await citizen.goto(statusUrl);
  assert.match(await citizen.textContent('main'), /Länken gäller inte/);
  await citizen.goto(confirmedUrl);
  assert.match(await citizen.textContent('h1'), /DSR-\d{4}-\d{6}/);

  // ---- The officer works it through the queue ----
  await officer.goto(BASE + '/officer');
  await officer.waitForURL(/\/officer\/login/);
  await check(officer, 'officer-login');
  await officer.fill('#token', 'insyn_wrong');
  await officer.click('button[type=submit]');
  assert.ok(await officer.isVisible('#token-error'));
  await officer.fill('#token', OFFICER);
  await officer.click('button[type=submit]');
  await officer.waitForURL(/\/officer(\?|$)/);
  await check(officer, 'officer-queue');
  await headerFocus(officer, 'officer-queue');
  const reference = (await citizen.textContent('h1')).match(/DSR-\d{4}-\d{6}/)[0];
  await officer.click(`text=${reference}`);
  await check(officer, 'officer-request');
  // An assignment without a name is refused next to its field, and nothing changes.
  await officer.click('form[action*="/assign"] button');
  assert.ok(await officer.isVisible('#assignee-error'));
  await officer.selectOption('#method', 'e_id');
  await officer.click('form[action*="/verify-identity"] button');
  // Completing before anyone has taken it on: refused, and said in Swedish.
  await officer.fill('#summary', 'Här är allt vi har om dig.');
  await officer.click('form[action*="/complete"] button');
  const refusal = await officer.textContent('#summary-error');
  assert.match(refusal, /Det går inte att slutföra ärendet nu\. Ärendets status är ”Bekräftad, väntar på handläggning”/);
  assert.doesNotMatch(refusal, /cannot|request that is/);
  await check(officer, 'officer-request-refused');
  // A note, read back in the history with who wrote it.
  await officer.fill('#note-text', 'Ringde Anna och bekräftade adressen.');
  await officer.click('form[action*="/notes"] button');
  const noted = officer.locator('section[aria-labelledby=history] tr', { hasText: 'Ringde Anna och bekräftade adressen.' });
  assert.equal(await noted.count(), 1, 'the note is not in the history');
  assert.match(await noted.textContent(), /Anteckning/);
  assert.match(await noted.textContent(), /browser-officer/);
  assert.match(await officer.textContent('section[aria-labelledby=history] thead'), /Vem/);
  await check(officer, 'officer-request-noted');
  await officer.fill('#assignee', 'dpo');
  await officer.click('form[action*="/assign"] button');
  await officer.fill('#summary', 'Här är allt vi har om dig.');
  await officer.click('form[action*="/complete"] button');
  assert.match(await officer.textContent('dl'), /Klar/);

  // ---- The citizen downloads the package ----
  const link = await waitFor(async () => {
    await citizen.goto(confirmedUrl);
    return (await citizen.$('a[download]')) ? true : null;
  }, 'the package to be built');
  assert.ok(link);
  await check(citizen, 'status-download');
  const [download] = await Promise.all([citizen.waitForEvent('download'), citizen.click('a[download]')]);
  const zip = fs.readFileSync(await download.path());
  assert.equal(zip.subarray(0, 2).toString(), 'PK', 'the download is a ZIP');

  // ---- An erasure, in English ----
  await citizen.goto(BASE + '/?lang=en');
  await citizen.check('#type-erasure');
  await citizen.fill('#email', 'anna.e@example.se');
  await citizen.fill('#account0', '501');
  await citizen.click('button[type=submit]');
  await citizen.waitForURL(/\/requests\/\d+\?token=/);
  const erasureUrl = citizen.url();
  const erasureRef = (await citizen.textContent('h1')).match(/DSR-\d{4}-\d{6}/)[0];
  await officer.goto(BASE + '/officer?type=erasure');
  await officer.click(`text=${erasureRef}`);
  await officer.selectOption('#method', 'in_person');
  await officer.click('form[action*="/verify-identity"] button');
  await officer.fill('#assignee', 'dpo');
  await officer.click('form[action*="/assign"] button');
  await officer.click('form[action$="/plan?lang=sv"] button, form[action*="/plan?"] button');
  await officer.waitForURL(/\/plan/);
  await check(officer, 'officer-plan');
  const totals = await officer.textContent('.totals');
  // The reaction (its disposal is due), the profile details, its consent entry, the earlier package.
  assert.match(totals, /Raderas: 4/, totals);
  // Leaving an item out needs a reason, told next to its field.
  const excludeForm = officer.locator('form[action*="/exclude"]').first();
  await excludeForm.locator('button').click();
  assert.ok(await officer.locator('.error').first().isVisible());
  await officer.locator('form[action*="/exclude"]').last().locator('input[name=reason]').fill('Redan borttagen av Meta.');
  await officer.locator('form[action*="/exclude"]').last().locator('button').click();
  assert.match(await officer.textContent('.totals'), /Undantagen: 1/);
  // Approving erases for good: not without the box ticked.
  await officer.click('form[action*="/approve"] button');
  assert.ok(await officer.isVisible('#confirm-approve-error'), 'approved without the box');
  await check(officer, 'officer-plan-unconfirmed');
  await officer.check('#confirm-approve');
  await officer.click('form[action*="/approve"] button');
  assert.match(await officer.textContent('main'), /verkställd/);
  // Each item's outcome in the page's words, not its key.
  assert.match(await officer.textContent('main'), /Raderad/);
  assert.doesNotMatch(await officer.textContent('main'), /task_opened|task_already_open/);
  assert.equal(await officer.locator('em', { hasText: /^erased$/ }).count(), 0);
  await check(officer, 'officer-plan-executed');

  // The officer's proof came while the address was unconfirmed: the link given at submission stopped
  // working, and a new one went to the address alone.
  const newLink = await waitFor(() => {
    const m = mails('anna.e@example.se').find((m) => /new link/.test(m.subject));
    return m ? m.text.match(/http\S+\?token=\S+/)[0] : null;
  }, 'the new link to be mailed');
  assert.notEqual(newLink.split('token=')[1], new URL(erasureUrl).searchParams.get('token'));
  await citizen.goto(newLink);
  const outcome = await citizen.textContent('main');
  assert.match(outcome, /Erased/);
  // The reaction on the post carries no time of its own: it is dated when it reached the archive.
  assert.match(outcome, /Erased\s+Reaction \d{4}-\d{2}-\d{2}: Erased: disposal decision KS 2024-0456/);
  assert.match(outcome, /Kept/);
  assert.match(outcome, /IMY/);
  await check(citizen, 'status-erasure-outcome');
  assert.ok(mails('anna.e@example.se').some((m) => /erasure/.test(m.subject)), 'the reply is mailed');

  // ---- Take-downs ----
  await officer.goto(BASE + '/officer/tasks');
  await check(officer, 'officer-tasks');
  const first = officer.locator('form[action*="/close"]').first();
  await first.locator('select').selectOption('not_possible');
  await first.locator('button').click();
  assert.ok(await officer.locator('.error').first().isVisible(), 'not possible needs a note');
  await officer.locator('form[action*="/close"]').first().locator('button').click();
  assert.match(await officer.textContent('.flash'), /Klart/);

  // ---- A citizen withdraws a request: only with the box ticked ----
  await citizen.goto(BASE + '/');
  await citizen.check('#type-objection');
  await citizen.fill('#email', 'cecilia@example.se');
  await citizen.fill('#account0', 'https://www.facebook.com/cecilia.c');
  await citizen.click('button[type=submit]');
  await citizen.waitForURL(/\/requests\/\d+\?token=/);
  await citizen.click('form[action*="/cancel"] button');
  assert.ok(await citizen.isVisible('#confirm-cancel-error'), 'withdrawn without the box');
  assert.equal(await citizen.getAttribute('#confirm-cancel', 'aria-invalid'), 'true');
  await check(citizen, 'status-cancel-unconfirmed');
  await citizen.check('#confirm-cancel');
  await citizen.click('form[action*="/cancel"] button');
  assert.match(await citizen.textContent('.flash'), /återkallad/);
  assert.match(await citizen.textContent('dl'), /Återkallad/);
  assert.equal(await citizen.locator('form[action*="/cancel"]').count(), 0);
  await check(citizen, 'status-cancelled');

  // ---- Errors a citizen can meet ----
  await citizen.goto(BASE + '/requests/1?token=dsr_not-a-token');
  assert.match(await citizen.textContent('main'), /Länken gäller inte/);
  await check(citizen, 'error-link');
} catch (e) {
  failures.push(`flow: ${e.stack || e}`);
  for (const [name, p] of [['citizen', citizen], ['officer', officer]]) {
    await p.screenshot({ path: path.join(SHOTS, `failure-${name}.png`), fullPage: true }).catch(() => {});
  }
} finally {
  await browser.close();
}

console.log(`${checked} pages checked with axe-core; screenshots in ${SHOTS}`);
if (failures.length) {
  console.log(`${failures.length} failures:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log('browser tests passed');
