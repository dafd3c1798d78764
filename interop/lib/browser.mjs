// Headless Chromium (Debian's /usr/bin/chromium, or INTEROP_CHROMIUM,
// driven by playwright-core) with a test's page served from
// http://127.0.0.1:<random port>: another origin than the server's, as a
// Finesse desktop gadget is, so every BOSH request is cross-origin.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const interopDir = fileURLToPath(new URL('..', import.meta.url));
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

const contentTypes = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.mjs': 'text/javascript; charset=utf-8',
    '.cjs': 'text/javascript; charset=utf-8',
};

/**
 * Serves `pages` and Strophe.js (at /strophe.js) on 127.0.0.1, and launches
 * Chromium with a fresh profile.
 * @param {{pages: Object<string, string>}} options pages: URL path -> file,
 *   relative to interop/ (e.g. {'/': 'browser/index.html'})
 * @returns {Promise<{context: import('playwright-core').BrowserContext,
 *   origin: string, pageURL: string, close: () => Promise<void>}>}
 *   origin is the page server's; pageURL is its '/'; close stops Chromium
 *   and the page server and removes the profile.
 */
export async function startBrowser({ pages }) {
    if (!existsSync(chromiumPath)) {
        throw new Error(`Chromium not found at ${chromiumPath}: install Debian's chromium (apt-get install -y chromium) or set INTEROP_CHROMIUM; \`make test\` installs it when it runs as root`);
    }
    const files = { '/strophe.js': stropheFile };
    for (const [urlPath, file] of Object.entries(pages)) {
        files[urlPath] = path.join(interopDir, file);
    }

    let pageServer = null;
    let profileDir = null;
    let context = null;
    const close = async () => {
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
    };

    try {
        pageServer = http.createServer((req, res) => {
            const file = files[new URL(req.url, 'http://page').pathname];
            if (!file || req.method !== 'GET') {
                res.writeHead(404).end();
                return;
            }
            res.writeHead(200, { 'Content-Type': contentTypes[path.extname(file)], 'Cache-Control': 'no-store' });
            res.end(readFileSync(file));
        });
        await new Promise((resolve, reject) => {
            pageServer.once('error', reject);
            pageServer.listen(0, '127.0.0.1', resolve);
        });

        profileDir = mkdtempSync(path.join(os.tmpdir(), 'finesse-notify-chromium-'));
        context = await chromium.launchPersistentContext(profileDir, {
            executablePath: chromiumPath,
            headless: true,
            args: chromiumArgs,
            timeout: 60_000,
        });
    } catch (err) {
        await close();
        throw err;
    }
    const origin = `http://127.0.0.1:${pageServer.address().port}`;
    return { context, origin, pageURL: `${origin}/`, close };
}

/**
 * Records a page's console and uncaught errors; returns a function that
 * gives them as text to add to a failure message.
 */
export function recordConsole(page) {
    const lines = [];
    page.on('console', (message) => lines.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (err) => lines.push(`pageerror: ${err.message}`));
    return () => `\n--- page console ---\n${lines.join('\n')}`;
}
