// Strophe.js in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) over BOSH. The page comes from a small HTTP server on
// http://127.0.0.1:<random port>, another origin than
// https://localhost:7443/http-bind, so every BOSH POST needs the server's
// CORS preflight; the test watches that preflight through the DevTools
// protocol (Playwright's own request events do not show preflights).

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { startServer } from '../lib/server.mjs';

const require = createRequire(import.meta.url);
const browserDir = fileURLToPath(new URL('../browser/', import.meta.url));
// The UMD build defines window.Strophe, $iq, $pres for a plain <script>.
const stropheFile = path.join(path.dirname(require.resolve('strophe.js/package.json')), 'dist', 'strophe.umd.cjs');

const chromiumPath = process.env.INTEROP_CHROMIUM || '/usr/bin/chromium';
const chromiumArgs = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // The server's certificate is self-signed; Node clients trust it for
    // real, the browser is told to accept it.
    '--ignore-certificate-errors',
];

const pageFiles = {
    '/': { file: path.join(browserDir, 'index.html'), type: 'text/html; charset=utf-8' },
    '/interop-page.js': { file: path.join(browserDir, 'interop-page.js'), type: 'text/javascript; charset=utf-8' },
    '/strophe.js': { file: stropheFile, type: 'text/javascript; charset=utf-8' },
};

let server;
let pageServer;
let context;
let profileDir;

before(async () => {
    if (!existsSync(chromiumPath)) {
        throw new Error(`Chromium not found at ${chromiumPath}: install Debian's chromium (apt-get install -y chromium) or set INTEROP_CHROMIUM; \`make test\` installs it when it runs as root`);
    }
    server = await startServer({ name: 'chromium-bosh', pingInterval: '1s', pingRetries: 2 });

    pageServer = http.createServer((req, res) => {
        const entry = pageFiles[new URL(req.url, 'http://page').pathname];
        if (!entry || req.method !== 'GET') {
            res.writeHead(404).end();
            return;
        }
        res.writeHead(200, { 'Content-Type': entry.type, 'Cache-Control': 'no-store' });
        res.end(readFileSync(entry.file));
    });
    await new Promise((resolve, reject) => {
        pageServer.once('error', reject);
        pageServer.listen(0, '127.0.0.1', resolve);
    });
});

after(async () => {
    if (context) {
        await context.close().catch(() => {});
    }
    if (profileDir) {
        rmSync(profileDir, { recursive: true, force: true });
    }
    if (pageServer) {
        pageServer.closeAllConnections();
        await new Promise((resolve) => pageServer.close(resolve));
    }
    if (server) {
        const { code, signal } = await server.stop();
        assert.equal(code, 0, `server exit after SIGTERM: code ${code}, signal ${signal}${server.logTail()}`);
    }
});

test('Strophe.js in headless Chromium logs in as 1002 over cross-origin BOSH with the CORS preflight', async () => {
    const pageOrigin = `http://127.0.0.1:${pageServer.address().port}`;
    profileDir = mkdtempSync(path.join(os.tmpdir(), 'finesse-notify-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, {
        executablePath: chromiumPath,
        headless: true,
        args: chromiumArgs,
        timeout: 60_000,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleLines = [];
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (err) => consoleLines.push(`pageerror: ${err.message}`));

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
        `\n--- page console ---\n${consoleLines.join('\n')}\n--- BOSH requests ---\n${JSON.stringify([...boshRequests.values()], null, 1)}${server.logTail()}`;

    await page.goto(`${pageOrigin}/`, { timeout: 30_000 });
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
