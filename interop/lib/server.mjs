// Start and stop the built finesse-notify binary for a test file.
//
// The binary runs as a child process on the real default ports (7443 for
// HTTPS, 7071 for plain HTTP) unless they are taken or overridden with
// INTEROP_NOTIFY_PORT / INTEROP_NOTIFY_PLAIN_PORT. The TCP listeners are
// turned off, and so is the REST listener unless a test file asks for it
// (startServer({rest: true}): Finesse's 8445, or a free port if 8445 is
// taken, or INTEROP_REST_PORT): other servers on the machine may hold their
// ports.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { reap } from './reaper.mjs';

const interopDir = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
export const repoDir = path.resolve(interopDir, '..');
export const resultsDir = path.join(interopDir, 'test-results');

export const DOMAIN = 'localhost';

/**
 * The XMPP transports every client test runs over; service(server) is the
 * URL a Strophe.Connection is made with.
 */
export const TRANSPORTS = [
    { name: 'BOSH', service: (server) => server.boshURL },
    { name: 'WebSocket', service: (server) => server.wsURL },
];

/** Parses Go-style durations the suite uses ("1s", "500ms") into milliseconds. */
export function durationMs(text) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
    if (!match) {
        throw new Error(`unsupported duration ${text}`);
    }
    return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2]];
}

function portFree(port) {
    return new Promise((resolve) => {
        const probe = net.createServer();
        probe.once('error', () => resolve(false));
        probe.listen({ port }, () => probe.close(() => resolve(true)));
    });
}

function freePort() {
    return new Promise((resolve, reject) => {
        const probe = net.createServer();
        probe.once('error', reject);
        probe.listen({ port: 0 }, () => {
            const { port } = probe.address();
            probe.close(() => resolve(port));
        });
    });
}

async function choosePort(envName, preferred, taken) {
    const fromEnv = process.env[envName];
    if (fromEnv) {
        return Number(fromEnv);
    }
    if (!taken.has(preferred) && (await portFree(preferred))) {
        return preferred;
    }
    let port;
    do {
        port = await freePort();
    } while (taken.has(port));
    console.log(`# port ${preferred} is taken; using ${port} instead (set ${envName} to choose)`);
    return port;
}

function get(url, options = {}) {
    return new Promise((resolve, reject) => {
        const client = url.startsWith('https:') ? https : http;
        const request = client.get(url, options, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
            res.on('error', reject);
        });
        request.on('error', reject);
        request.setTimeout(5_000, () => request.destroy(new Error(`GET ${url} timed out`)));
    });
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts the server and resolves once /healthz answers on both listeners.
 * @param {object} options
 * @param {string} options.name label for the log file under test-results/
 * @param {string} [options.pingInterval] --ping-interval
 * @param {number} [options.pingRetries] --ping-retries
 * @param {boolean} [options.rest] also start the REST listener (HTTPS), at server.restURL
 * @param {string[]} [options.extraArgs]
 */
export async function startServer({ name, pingInterval = '1s', pingRetries = 2, rest = false, extraArgs = [] }) {
    const bin = process.env.INTEROP_SERVER_BIN || path.join(repoDir, 'bin', 'finesse-notify');
    if (!existsSync(bin)) {
        throw new Error(`server binary ${bin} not found: build it with \`make build\` (or set INTEROP_SERVER_BIN)`);
    }
    const taken = new Set();
    const notifyPort = await choosePort('INTEROP_NOTIFY_PORT', 7443, taken);
    taken.add(notifyPort);
    const plainPort = await choosePort('INTEROP_NOTIFY_PLAIN_PORT', 7071, taken);
    taken.add(plainPort);
    const restPort = rest ? await choosePort('INTEROP_REST_PORT', 8445, taken) : null;

    const args = [
        `--domain=${DOMAIN}`,
        `--notify-addr=:${notifyPort}`,
        `--notify-plain-addr=:${plainPort}`,
        rest ? `--rest-addr=:${restPort}` : '--rest-addr=',
        '--xmpp-addr=',
        '--xmpps-addr=',
        `--ping-interval=${pingInterval}`,
        `--ping-retries=${pingRetries}`,
        '--log-level=debug',
        ...extraArgs,
    ];
    // The host's FINESSE_NOTIFY_* settings must not change what is tested.
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('FINESSE_NOTIFY_')));

    mkdirSync(resultsDir, { recursive: true });
    const logFile = path.join(resultsDir, `${name}.server.log`);
    const log = createWriteStream(logFile);
    log.write(`$ ${bin} ${args.join(' ')}\n`);
    const tail = [];
    const keep = (chunk) => {
        log.write(chunk);
        tail.push(chunk.toString());
        if (tail.length > 400) {
            tail.shift();
        }
    };

    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let exited = null;
    const exit = new Promise((resolve) => {
        child.on('exit', (code, signal) => {
            exited = { code, signal };
            resolve(exited);
        });
    });
    reap(child);

    const logTail = () => `\n--- server log tail (${logFile}) ---\n${tail.join('').slice(-6000)}`;
    const server = {
        bin,
        args,
        notifyPort,
        plainPort,
        restPort,
        domain: DOMAIN,
        pubsubJID: `pubsub.${DOMAIN}`,
        pingIntervalMs: durationMs(pingInterval),
        pingRetries,
        boshURL: `https://localhost:${notifyPort}/http-bind`,
        wsURL: `wss://localhost:${notifyPort}/ws`,
        plainURL: `http://127.0.0.1:${plainPort}`,
        // The REST listener's origin (HTTPS, the same certificate), or null.
        restURL: rest ? `https://localhost:${restPort}` : null,
        caFile: null,
        logFile,
        logTail,
        exited: () => exited,
        /** Sends SIGTERM and resolves with {code, signal}; SIGKILL after 15 s. */
        async stop() {
            if (!exited) {
                child.kill('SIGTERM');
                const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
                await exit;
                clearTimeout(timer);
            }
            await new Promise((resolve) => log.end(resolve));
            if (server.caDir) {
                rmSync(server.caDir, { recursive: true, force: true });
            }
            return exited;
        },
    };

    try {
        // Wait for the plain listener's /healthz; the server prints its URLs
        // before it is necessarily listening, so ask rather than read.
        const deadline = Date.now() + 20_000;
        for (;;) {
            if (exited) {
                throw new Error(`server exited during start (code ${exited.code}, signal ${exited.signal})`);
            }
            try {
                const res = await get(`${server.plainURL}/healthz`);
                if (res.status === 200) {
                    break;
                }
            } catch {
                // not listening yet
            }
            if (Date.now() > deadline) {
                throw new Error(`server did not answer ${server.plainURL}/healthz within 20 s`);
            }
            await sleep(100);
        }

        // Trust the self-signed certificate for real: fetch its PEM and
        // check that the HTTPS listener presents a certificate it signs for
        // localhost.
        const pem = await get(`${server.plainURL}/tls/certificate.pem`);
        if (pem.status !== 200 || !pem.body.includes('BEGIN CERTIFICATE')) {
            throw new Error(`GET /tls/certificate.pem: status ${pem.status}, body ${pem.body.slice(0, 200)}`);
        }
        server.caDir = mkdtempSync(path.join(os.tmpdir(), 'finesse-notify-ca-'));
        server.caFile = path.join(server.caDir, 'certificate.pem');
        writeFileSync(server.caFile, pem.body);
        server.caPEM = pem.body;
        const secure = await get(`https://localhost:${notifyPort}/healthz`, { ca: pem.body });
        if (secure.status !== 200) {
            throw new Error(`GET https://localhost:${notifyPort}/healthz: status ${secure.status}`);
        }
        if (rest) {
            const restHealth = await get(`${server.restURL}/healthz`, { ca: pem.body });
            if (restHealth.status !== 200) {
                throw new Error(`GET ${server.restURL}/healthz: status ${restHealth.status}`);
            }
        }
    } catch (err) {
        await server.stop();
        err.message += logTail();
        throw err;
    }
    return server;
}

/**
 * Stops the server of a test file, if it started, and asserts that it exits
 * 0 after SIGTERM; for after() hooks.
 */
export async function stopServer(server) {
    if (server) {
        const { code, signal } = await server.stop();
        assert.equal(code, 0, `server exit after SIGTERM: code ${code}, signal ${signal}${server.logTail()}`);
    }
}
