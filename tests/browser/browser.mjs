// browser.mjs -- Debian's Chromium for the browser tests, driven by
// playwright-core (which downloads no browser), with a throwaway profile
// and a record of what the page asked for and complained about.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ARTIFACTS, stopServer, logTail } from '../contract/harness.mjs';

const CHROMIUM = process.env.NEXUS_CHROMIUM || '/usr/bin/chromium';

/**
 * Start the browser. Returns { context, page, requests, consoleErrors,
 * pageErrors, close }: requests holds { url, method, headers } of every
 * request the browser made; close() ends the browser and its profile.
 */
export async function launchBrowser() {
  assert.ok(existsSync(CHROMIUM), `no browser at ${CHROMIUM} (apt-get install chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'nexus-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const b = { context, requests: [], consoleErrors: [], pageErrors: [] };
  context.on('request', (r) => b.requests.push({ url: r.url(), method: r.method(), headers: r.headers(), body: r.postData() }));
  b.page = context.pages()[0] || (await context.newPage());
  b.page.setDefaultTimeout(30000);
  b.page.on('console', (m) => m.type() === 'error' && b.consoleErrors.push(m.text()));
  b.page.on('pageerror', (e) => b.pageErrors.push(e.message));
  b.close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  mkdirSync(ARTIFACTS, { recursive: true });
  return b;
}

/** The URLs of requests to another origin than base's (data: URIs aside). */
export function foreignRequests(requests, base) {
  const origin = new URL(base).origin;
  return requests.map((r) => r.url).filter((u) => !u.startsWith('data:') && new URL(u).origin !== origin);
}

/** The end of a browser test: the browser closed, then the server stopped cleanly. */
export async function finish(browser, server) {
  if (browser) await browser.close();
  if (server) {
    const exit = await stopServer(server);
    assert.equal(exit?.code, 0, `server exit ${JSON.stringify(exit)}\n${logTail(server)}`);
  }
}
