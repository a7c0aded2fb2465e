// The web page in a real browser (Debian's chromium through playwright-core)
// against a running kofarm stack; tests/integration/web_test.sh starts the
// stack and runs this. Prints "ok   NAME" / "FAIL NAME" lines (lib.sh's
// format, counted by the shell test) and saves screenshots.
//
// Environment: KF_WEB_URL (server), KF_WEB_TOKEN (build scope), KF_WEB_GIT_URL
// (a file:// repository), KF_WEB_IMPORTPATH, KF_WEB_PLATFORMS, KF_WEB_SHOTS
// (screenshot directory), KF_WEB_NODE_MODULES (where npm installed
// playwright-core), KF_WEB_RESOLVE_FILES (files for a resolve, optional);
// when the server serves projects, KF_WEB_ADMIN_TOKEN and KF_WEB_GIT_COMMIT
// (the commit the repository's tag v1.0.0 names).
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    throw new Error(`${name} is not set`);
  }
  return v;
};
const BASE = env('KF_WEB_URL');
const TOKEN = env('KF_WEB_TOKEN');
const GIT_URL = env('KF_WEB_GIT_URL');
const IMPORTPATH = env('KF_WEB_IMPORTPATH', './cmd/app');
const PLATFORMS = env('KF_WEB_PLATFORMS', 'linux/amd64');
const SHOTS = env('KF_WEB_SHOTS');
const RESOLVE_FILES = env('KF_WEB_RESOLVE_FILES', '');
const require = createRequire(path.join(env('KF_WEB_NODE_MODULES'), 'noop.js'));
const { chromium } = require('playwright-core');

const JOB_TIMEOUT = 240_000;
let passed = 0;
let failed = 0;
function ok(name) { passed++; console.log(`ok   ${name}`); }
function fail(name, ...details) {
  failed++;
  console.log(`FAIL ${name}`);
  for (const d of details) console.log(`     ${String(d).slice(0, 2000)}`);
}
function check(name, cond, ...details) { if (cond) ok(name); else fail(name, ...details); }
function eq(name, expected, actual) {
  check(name, expected === actual, `expected: ${JSON.stringify(expected)}`, `actual:   ${JSON.stringify(actual)}`);
}
// Runs a step; an exception fails it (and the caller decides whether to go on).
async function step(name, fn) {
  try {
    await fn();
    return true;
  } catch (e) {
    fail(name, e.stack || e);
    return false;
  }
}

async function api(p, init = {}) {
  const resp = await fetch(BASE + p, { ...init, headers: { Authorization: `Bearer ${TOKEN}`, ...(init.headers || {}) } });
  return resp;
}

// With /v1/projects served: a project with a tag rule, a signed GitHub tag
// push, and the release it makes, seen and downloaded from /projects.
async function projectChecks(page, resolvesServed) {
  const admin = env('KF_WEB_ADMIN_TOKEN');
  const commit = env('KF_WEB_GIT_COMMIT');
  const asAdmin = { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' };
  const resp = await fetch(`${BASE}/v1/projects`, { method: 'POST', headers: asAdmin, body: JSON.stringify({
    name: 'webshop', git: { url: GIT_URL }, webhook_secret: 'web-test-secret',
    rules: [{ on: 'tag', tags: ['v*'], resolve: { files: RESOLVE_FILES.split(',') } }],
    defaults: { platforms: [PLATFORMS] } }) });
  check('an admin creates a project', resp.ok, `${resp.status} ${await resp.text()}`);
  const { createHmac } = await import('node:crypto');
  const body = JSON.stringify({ ref: 'refs/tags/v1.0.0', before: '0'.repeat(40), after: commit, created: true, deleted: false,
    repository: { clone_url: GIT_URL, full_name: 'web/hello' }, head_commit: { id: commit } });
  const hook = await fetch(`${BASE}/v1/hooks/github/webshop`, { method: 'POST', body, headers: {
    'Content-Type': 'application/json', 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'web-test-1',
    'X-Hub-Signature-256': `sha256=${createHmac('sha256', 'web-test-secret').update(body).digest('hex')}` } });
  check('a signed tag push is accepted', hook.ok, `${hook.status} ${await hook.text()}`);
  await page.reload();
  await page.getByRole('heading', { name: 'webshop' }).waitFor({ timeout: 10_000 });
  await page.getByText('on tag v*: resolve config/').waitFor({ timeout: 5000 });
  ok('the project shows its rule');
  const hookURL = `${BASE}/v1/hooks/github/webshop`;
  eq('the GitHub webhook URL is shown', 1, await page.locator('ul.hooks code', { hasText: hookURL }).count());
  await page.getByRole('button', { name: 'Copy GitHub webhook URL' }).click();
  eq('the webhook URL copies', hookURL, await page.evaluate(() => navigator.clipboard.readText()));
  await page.screenshot({ path: path.join(SHOTS, 'projects-desktop-light.png'), fullPage: true });
  // A release is a resolve job: only a server that runs resolves makes one.
  if (!resolvesServed) {
    console.log('# /v1/resolves is not served: no release to download');
    return;
  }
  let release = null;
  for (let i = 0; i < JOB_TIMEOUT / 1000 && !(release && ['succeeded', 'failed', 'canceled'].includes(release.state)); i++) {
    const list = await (await api('/v1/projects/webshop/releases')).json();
    release = (list.releases || list.items || [])[0] || null;
    await new Promise((r) => { setTimeout(r, 1000); });
  }
  eq('the tag made a release that succeeded', 'succeeded', release && release.state);
  await page.reload();
  const link = page.locator('table.releases a[download]', { hasText: 'Download' }).first();
  await link.waitFor({ timeout: 10_000 });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const file = path.join(SHOTS, 'webshop-v1.0.0.yaml');
  await download.saveAs(file);
  const { readFileSync } = await import('node:fs');
  const apiYaml = await (await api('/v1/projects/webshop/releases/v1.0.0/release.yaml')).text();
  check('the release download is the API\'s release.yaml', apiYaml.length > 0 && apiYaml === readFileSync(file, 'utf8'), apiYaml.slice(0, 200));
}

mkdirSync(SHOTS, { recursive: true });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
const problems = []; // console errors and uncaught exceptions (CSP violations land here)

async function newPage(viewport, colorScheme) {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  const page = await context.newPage();
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  return { context, page };
}

let buildId = null;
let resolveId = null;
try {
  const { context, page } = await newPage({ width: 1280, height: 900 }, 'light');

  // ---- the list
  await step('the list page loads', async () => {
    const resp = await page.goto(`${BASE}/`);
    eq('GET / answers 200 text/html', '200 text/html', `${resp.status()} ${(resp.headers()['content-type'] || '').split(';')[0]}`);
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    await page.locator('table.jobs').waitFor();
    await page.getByText(/^([0-9]+ jobs? shown|No jobs match\.)$/).waitFor({ timeout: 10_000 });
    ok('the jobs table is filled from the API');
  });

  // ---- the token
  await step('the token is kept in localStorage', async () => {
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Save' }).click();
    eq('the token is in localStorage', TOKEN, await page.evaluate(() => localStorage.getItem('kofarm.token')));
    await page.reload();
    eq('the token field is filled after a reload', TOKEN, await page.getByLabel('API token').inputValue());
  });

  // ---- submit a build through the form
  const submitted = await step('submit a build through the form', async () => {
    await page.getByText('Build from a git repository').click();
    await page.getByLabel('Git URL').fill(GIT_URL);
    await page.getByLabel('Branch, tag or ref').fill('main');
    await page.getByLabel('Import paths').fill(IMPORTPATH);
    await page.getByLabel('Platforms').fill(PLATFORMS);
    // No reuse of an earlier identical build: this one must really run.
    await page.getByLabel('Build again even when an identical build succeeded').check();
    await page.getByRole('button', { name: 'Submit build' }).click();
    await page.waitForURL(/\/builds\/[0-9]+$/, { timeout: 15_000 });
    buildId = page.url().match(/\/builds\/([0-9]+)$/)[1];
    ok(`the form opened the new build's page (/builds/${buildId})`);
  });

  if (submitted) {
    // ---- the job page: log stream, state, digests
    await step('the job page follows the build', async () => {
      await page.getByRole('heading', { name: new RegExp(`build ${buildId}`) }).waitFor();
      // The log streams while the build runs: lines arrive before the end.
      await page.waitForFunction(() => document.getElementById('log').textContent.trim().length > 0, null, { timeout: JOB_TIMEOUT });
      const stateAtFirstLine = await page.locator('#job-state [data-state]').getAttribute('data-state');
      check('log lines stream into the page while the build runs', ['queued', 'running'].includes(stateAtFirstLine),
        `the state was already ${stateAtFirstLine}`);
      await page.locator('#job-state [data-state="succeeded"]').waitFor({ timeout: JOB_TIMEOUT });
      ok('the state turns succeeded');
      await page.locator('#log[data-complete="true"]').waitFor({ timeout: 30_000 });
      const shown = await page.locator('#log').textContent();
      const apiLog = await (await api(`/v1/builds/${buildId}/log`)).text();
      eq('the streamed log is the API\'s log', apiLog, shown);
      check('the timeline shows three done steps', (await page.locator('.timeline .step.done').count()) === 3);
      await page.screenshot({ path: path.join(SHOTS, 'build-desktop-light.png'), fullPage: true });
    });

    await step('digests and copy buttons', async () => {
      const job = await (await api(`/v1/builds/${buildId}`)).json();
      const img = job.result.images[0];
      eq('the shown reference is the API\'s', img.reference, await page.locator('.image code.reference').first().textContent());
      eq('the shown digest is the API\'s', img.digest, await page.locator('.image code.digest').first().textContent());
      const platformDigests = await page.locator('table.platforms tbody tr').evaluateAll((rows) =>
        rows.map((r) => `${r.querySelector('th').textContent} ${r.querySelector('code').textContent}`));
      eq('per-platform digests are the API\'s', (img.platforms || []).map((p) => `${p.platform} ${p.digest}`).join('\n'),
        platformDigests.join('\n'));
      const copy = page.getByRole('button', { name: 'Copy digest', exact: true }).first();
      await copy.click();
      await page.locator('button.copy[data-copied="true"]').first().waitFor({ timeout: 5000 });
      ok('the copy button shows the copied state');
      eq('the clipboard holds the digest', img.digest, await page.evaluate(() => navigator.clipboard.readText()));
      eq('the job ran (no reused result)', undefined, job.result.reused_from ?? undefined);
      check('a succeeded build offers neither cancel nor retry',
        (await page.locator('#cancel').count()) === 0 && (await page.locator('#retry').count()) === 0);
    });

    await step('the job page by its own URL (a browser navigation)', async () => {
      const resp = await page.goto(`${BASE}/builds/${buildId}`);
      eq('/builds/{id} in a browser is the page', 'text/html', (resp.headers()['content-type'] || '').split(';')[0]);
      await page.locator('#job-state [data-state="succeeded"]').waitFor({ timeout: 10_000 });
      ok('the bookmarked job page renders the job');
    });

    await step('the list shows the build and filters it', async () => {
      await page.goto(`${BASE}/`);
      const row = page.locator(`table.jobs tr[data-id="${buildId}"]`);
      await row.waitFor({ timeout: 10_000 });
      eq('the row says succeeded', 'succeeded', await row.locator('[data-state]').getAttribute('data-state'));
      check('the row shows the ref and short commit', /main @ [0-9a-f]{12}/.test(await row.textContent()), await row.textContent());
      await page.getByLabel('State').selectOption('failed');
      await page.waitForURL(/\?state=failed/);
      await page.getByText('No jobs match.').waitFor({ timeout: 10_000 });
      ok('filtering by state failed hides it (and goes into the URL)');
      await page.getByLabel('State').selectOption('succeeded');
      await row.waitFor({ timeout: 10_000 });
      ok('filtering by state succeeded shows it');
      await page.goBack();
      await page.getByText('No jobs match.').waitFor({ timeout: 10_000 });
      ok('the back button restores the previous filter');
      check('no "older jobs" button on a single page', !(await page.getByRole('button', { name: 'Load older jobs' }).isVisible()));
    });

    await step('pagination and the project filter', async () => {
      await page.goto(`${BASE}/`);
      const rows = page.locator('table.jobs tbody tr');
      await page.locator(`table.jobs tr[data-id="${buildId}"]`).waitFor({ timeout: 10_000 });
      eq('the first page has 20 jobs', 20, await rows.count());
      const more = page.getByRole('button', { name: 'Load older jobs' });
      while (await more.isVisible()) {
        const before = await rows.count();
        await more.click();
        await page.waitForFunction((n) => document.querySelectorAll('table.jobs tbody tr').length > n, before, { timeout: 10_000 });
      }
      const all = await (await api('/v1/builds?limit=200')).json();
      eq('following next_cursor shows every job', all.items.length, await rows.count());
      const ids = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
      eq('newest first', JSON.stringify([...ids].sort((a, b) => b - a)), JSON.stringify(ids));
      await page.locator('#filter-project').fill('archive');
      await page.locator('#filter-project').press('Enter');
      await page.waitForURL(/\?project=archive/);
      await page.getByText('20 jobs shown').waitFor({ timeout: 10_000 });
      const projects = await rows.evaluateAll((trs) => [...new Set(trs.map((tr) => tr.children[2].textContent))]);
      eq('the project filter shows only that project', 'archive', projects.join(','));
    });

    await step('a cancel through the page', async () => {
      // A queued-or-running build of the same source with no cache, cancelled at once.
      const resp = await api('/v1/builds', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ source: { git: { url: GIT_URL, ref: 'main' } }, importpaths: [IMPORTPATH], platforms: [PLATFORMS], no_cache: true }) });
      const job = await resp.json();
      await page.goto(`${BASE}/builds/${job.id}`);
      await page.locator('#cancel').click({ timeout: 10_000 });
      await page.locator('#job-state [data-state="canceled"]').waitFor({ timeout: 60_000 });
      ok('cancel turns the build canceled');
      await page.locator('#retry').click();
      await page.waitForURL((u) => /\/builds\/[0-9]+$/.test(u.pathname) && !u.pathname.endsWith(`/${job.id}`), { timeout: 10_000 });
      ok('retry opens the new build');
      await api(`${new URL(page.url()).pathname.replace(/^/, '/v1')}/cancel`, { method: 'POST' });
    });
  }

  await step('an API error is shown clearly', async () => {
    await page.goto(`${BASE}/`);
    await page.getByLabel('API token').fill('not-a-valid-token');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Build from a git repository').click();
    await page.getByLabel('Git URL').fill(GIT_URL);
    await page.getByRole('button', { name: 'Submit build' }).click();
    const message = page.locator('.form-message');
    await page.waitForFunction(() => document.querySelector('.form-message').textContent.length > 0);
    check('a bad token gives the API\'s message and a hint', /401 unauthorized.*API token/.test(await message.textContent()),
      await message.textContent());
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Save' }).click();
  });

  // ---- a resolve and its release.yaml, when the server serves resolves
  const probe = await api('/v1/resolves?limit=1');
  if (probe.status === 404) {
    console.log('# /v1/resolves is not served: the resolve checks are skipped');
  } else if (RESOLVE_FILES) {
    await step('a resolve and its release.yaml', async () => {
      const resp = await api('/v1/resolves', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ source: { git: { url: GIT_URL, ref: 'main' } }, files: RESOLVE_FILES.split(','), platforms: [PLATFORMS] }) });
      const job = await resp.json();
      check('POST /v1/resolves accepted the resolve', resp.status === 202 || resp.status === 200, JSON.stringify(job));
      resolveId = job.id;
      await page.goto(`${BASE}/resolves/${resolveId}`);
      await page.locator('#job-state [data-state="succeeded"]').waitFor({ timeout: JOB_TIMEOUT });
      ok('the resolve succeeds on its page');
      const apiYaml = await (await api(`/v1/resolves/${resolveId}/release.yaml`)).text();
      await page.waitForFunction(() => !/^Loading/.test(document.querySelector('pre.release').textContent));
      eq('the shown release.yaml is the API\'s', apiYaml, await page.locator('pre.release').textContent());
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#release-download').click()]);
      const file = path.join(SHOTS, `release-${resolveId}.yaml`);
      await download.saveAs(file);
      const { readFileSync } = await import('node:fs');
      eq('the downloaded release.yaml is the API\'s', apiYaml, readFileSync(file, 'utf8'));
      await page.screenshot({ path: path.join(SHOTS, 'resolve-desktop-light.png'), fullPage: true });
    });
  }

  await step('the projects page', async () => {
    await page.goto(`${BASE}/projects`);
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    const probeProjects = await api('/v1/projects');
    if (probeProjects.status === 404) {
      await page.getByText('This server does not serve projects').waitFor({ timeout: 10_000 });
      ok('without /v1/projects the page says so');
      await page.waitForFunction(() => document.querySelector('nav a[href="/projects"]').parentElement.hidden);
      ok('and the Projects link is hidden');
    } else {
      await projectChecks(page, probe.status !== 404);
    }
  });
  await context.close();

  // ---- screenshots: phone and desktop, light and dark
  for (const [label, viewport] of [['phone', { width: 390, height: 844 }], ['desktop', { width: 1280, height: 900 }]]) {
    for (const scheme of ['light', 'dark']) {
      await step(`screenshots ${label} ${scheme}`, async () => {
        const { context: c, page: p } = await newPage(viewport, scheme);
        await p.goto(`${BASE}/`);
        await p.evaluate((t) => localStorage.setItem('kofarm.token', t), TOKEN);
        await p.reload();
        if (buildId) await p.locator(`table.jobs tr[data-id="${buildId}"]`).waitFor({ timeout: 10_000 });
        await p.screenshot({ path: path.join(SHOTS, `list-${label}-${scheme}.png`), fullPage: true });
        if (buildId) {
          await p.goto(`${BASE}/builds/${buildId}`);
          await p.locator('#log[data-complete="true"]').waitFor({ timeout: 10_000 });
          await p.screenshot({ path: path.join(SHOTS, `build-${label}-${scheme}.png`), fullPage: true });
        }
        if (label === 'phone') {
          const width = await p.evaluate(() => document.documentElement.scrollWidth);
          check(`no sideways scrolling on a phone (${scheme})`, width <= viewport.width, `scrollWidth ${width}`);
        }
        await c.close();
      });
    }
  }
  // The bad-token step logs 401s on purpose, and the probes of collections
  // this server may not have (resolves, projects) 404s; anything else is a bug.
  const unexpected = problems.filter((p) => !/status of (401|404)/.test(p));
  check('no console errors or uncaught exceptions (CSP violations included)', unexpected.length === 0, ...unexpected);
} finally {
  await browser.close();
}
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
