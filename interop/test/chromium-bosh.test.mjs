// Strophe.js in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) over BOSH. The page comes from a small HTTP server on
// http://127.0.0.1:<random port>, another origin than
// https://localhost:7443/http-bind, so every BOSH POST needs the server's
// CORS preflight; the test watches that preflight through the DevTools
// protocol (Playwright's own request events do not show preflights).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { recordConsole, startBrowser } from '../lib/browser.mjs';
import { startServer, stopServer } from '../lib/server.mjs';

let server;
let browser;

before(async () => {
    browser = await startBrowser({ pages: { '/': 'browser/index.html', '/interop-page.js': 'browser/interop-page.js' } });
    server = await startServer({ name: 'chromium-bosh', pingInterval: '1s', pingRetries: 2 });
});

after(async () => {
    await browser?.close();
    await stopServer(server);
});

test('Strophe.js in headless Chromium logs in as 1002 over cross-origin BOSH with the CORS preflight', async () => {
    const { context, origin: pageOrigin } = browser;
    const page = context.pages()[0] ?? (await context.newPage());
    const pageConsole = recordConsole(page);

    // Every request to /http-bind as the DevTools protocol reports it,
    // preflights included.
    const boshRequests = new Map(); // requestId -> {method, initiator, headers, status, responseHeaders}
    const cdp = await context.newCDPSession(page);
    cdp.on('Network.requestWillBeSent', (event) => {
        if (event.request.url === server.boshURL) {
            boshRequests.set(event.requestId, {
                method: event.request.method,
                initiator: event.initiator?.type,
                headers: event.request.headers,
            });
        }
    });
    cdp.on('Network.responseReceived', (event) => {
        const request = boshRequests.get(event.requestId);
        if (request) {
            request.status = event.response.status;
            request.responseHeaders = Object.fromEntries(
                Object.entries(event.response.headers).map(([name, value]) => [name.toLowerCase(), value]),
            );
        }
    });
    await cdp.send('Network.enable');

    const diagnostics = () =>
        `${pageConsole()}\n--- BOSH requests ---\n${JSON.stringify([...boshRequests.values()], null, 1)}${server.logTail()}`;

    await page.goto(browser.pageURL, { timeout: 30_000 });
    let result;
    try {
        result = await page.evaluate(
            (options) => window.interop.login(options),
            { service: server.boshURL, jid: `1002@${server.domain}/chromium`, password: 'password', domain: server.domain },
        );
    } catch (err) {
        err.message += diagnostics();
        throw err;
    }

    assert.equal(result.origin, pageOrigin);
    assert.notEqual(new URL(server.boshURL).origin, pageOrigin, 'the page and /http-bind are different origins');
    assert.equal(result.jid, `1002@${server.domain}/chromium`, `bound JID${diagnostics()}`);
    assert.deepEqual(result.authMechanisms, ['PLAIN'], 'Strophe authenticated with SASL PLAIN');
    assert.equal(result.pingType, 'result', 'the domain answered the XEP-0199 ping');
    assert.equal(result.pingFrom, server.domain);

    // The CORS preflight really happened and the server allowed the page.
    const requests = [...boshRequests.values()];
    const preflights = requests.filter((r) => r.method === 'OPTIONS');
    assert.ok(preflights.length > 0, `Chromium sent a CORS preflight to /http-bind${diagnostics()}`);
    for (const preflight of preflights) {
        assert.equal(preflight.initiator, 'preflight', 'the OPTIONS request is Chromium’s own preflight');
        assert.ok(preflight.status >= 200 && preflight.status < 300, `preflight status ${preflight.status}`);
        const allowOrigin = preflight.responseHeaders?.['access-control-allow-origin'];
        assert.ok(allowOrigin === '*' || allowOrigin === pageOrigin, `preflight Access-Control-Allow-Origin: ${allowOrigin}`);
    }
    const posts = requests.filter((r) => r.method === 'POST' && r.status !== undefined);
    assert.ok(posts.length >= 3, `BOSH POSTs answered: ${posts.length}`);
    for (const post of posts) {
        assert.equal(post.status, 200);
        const allowOrigin = post.responseHeaders?.['access-control-allow-origin'];
        assert.ok(allowOrigin === '*' || allowOrigin === pageOrigin, `POST Access-Control-Allow-Origin: ${allowOrigin}`);
    }

    assert.equal(await page.evaluate(() => window.interop.logout()), 'DISCONNECTED');
});
