// The parent's side of strophe-child.mjs: start a Strophe.js client in its
// own Node process, send it commands, and wait for what it saw on the wire.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DOMParser } from '@xmldom/xmldom';

import { reap } from './reaper.mjs';
import { childElement } from './stanzas.mjs';

const childScript = fileURLToPath(new URL('./strophe-child.mjs', import.meta.url));

// Every client started and not yet reaped, so that a failing test can never
// leave one behind (see killAllClients).
const live = new Set();

export class StropheProcess {
    /**
     * Starts a client process and waits until it accepts commands; a
     * subclass's start resolves with an instance of the subclass.
     * @param {string} name label for diagnostics
     * @param {{caFile?: string}} options caFile: PEM the child trusts for TLS
     */
    static async start(name, { caFile } = {}) {
        const env = { ...process.env };
        if (caFile) {
            env.NODE_EXTRA_CA_CERTS = caFile;
        }
        const child = fork(childScript, [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
        reap(child);
        const client = new this(name, child);
        await client.#until((m) => m.type === 'ready', 15_000, 'the client process to start');
        return client;
    }

    constructor(name, child) {
        this.name = name;
        this.child = child;
        this.events = []; // every message from the child, stanzas parsed into .el
        this.output = []; // the child's stdout and stderr, for diagnostics
        this.exited = null; // {code, signal} once the process is gone
        this.jid = null;
        this.#nextId = 1;
        this.#replies = new Map();
        this.#waiters = new Set();
        live.add(this);

        const keep = (chunk) => {
            this.output.push(chunk.toString());
            if (this.output.length > 200) {
                this.output.shift();
            }
        };
        child.stdout.on('data', keep);
        child.stderr.on('data', keep);
        child.on('message', (message) => this.#onMessage(message));
        child.on('exit', (code, signal) => {
            this.exited = { code, signal };
            live.delete(this);
            const err = new Error(`${this.name}: client process exited (code ${code}, signal ${signal})${this.#outputTail()}`);
            for (const { reject } of this.#replies.values()) {
                reject(err);
            }
            this.#replies.clear();
            for (const waiter of this.#waiters) {
                waiter.reject(err);
            }
            this.#waiters.clear();
        });
    }

    #nextId;
    #replies;
    #waiters;

    #onMessage(message) {
        if (message.type === 'reply') {
            const pending = this.#replies.get(message.id);
            if (pending) {
                this.#replies.delete(message.id);
                if (message.ok) {
                    pending.resolve(message.value);
                } else {
                    pending.reject(new Error(`${this.name}: ${pending.cmd}: ${message.error}`));
                }
            }
            return;
        }
        if (message.type === 'in' || message.type === 'out') {
            message.el = parseStanza(message.xml);
        }
        message.at = Date.now();
        this.events.push(message);
        for (const waiter of this.#waiters) {
            if (waiter.match(message)) {
                this.#waiters.delete(waiter);
                waiter.resolve(message);
            }
        }
    }

    #outputTail() {
        const text = this.output.join('').trim();
        return text ? `\n--- ${this.name} output ---\n${text.slice(-4000)}` : '';
    }

    // Resolves with the first future message that matches.
    #until(match, timeoutMs, what) {
        return new Promise((resolve, reject) => {
            if (this.exited) {
                reject(new Error(`${this.name}: client process already exited`));
                return;
            }
            const waiter = { match, resolve, reject };
            const timer = setTimeout(() => {
                this.#waiters.delete(waiter);
                reject(new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${what}${this.#outputTail()}`));
            }, timeoutMs);
            waiter.resolve = (value) => {
                clearTimeout(timer);
                resolve(value);
            };
            waiter.reject = (err) => {
                clearTimeout(timer);
                reject(err);
            };
            this.#waiters.add(waiter);
        });
    }

    /** Sends a command to the child and resolves with its reply value. */
    request(cmd, args = {}, timeoutMs = 20_000) {
        return new Promise((resolve, reject) => {
            if (this.exited) {
                reject(new Error(`${this.name}: client process already exited`));
                return;
            }
            const id = this.#nextId++;
            const timer = setTimeout(() => {
                this.#replies.delete(id);
                reject(new Error(`${this.name}: no reply to ${cmd} within ${timeoutMs} ms${this.#outputTail()}`));
            }, timeoutMs);
            this.#replies.set(id, {
                cmd,
                resolve: (value) => {
                    clearTimeout(timer);
                    resolve(value);
                },
                reject: (err) => {
                    clearTimeout(timer);
                    reject(err);
                },
            });
            this.child.send({ id, cmd, args });
        });
    }

    /**
     * Waits for an event that matches, looking first at the events recorded
     * since index `from` (default: only events still to come).
     */
    waitFor(match, { from = this.events.length, timeoutMs = 20_000, what = 'an event' } = {}) {
        const seen = this.events.slice(from).find(match);
        if (seen) {
            return Promise.resolve(seen);
        }
        return this.#until(match, timeoutMs, what);
    }

    /** Waits until `count` events that match have been recorded since `from`. */
    async waitForCount(match, count, { from = this.events.length, timeoutMs = 20_000, what = 'events' } = {}) {
        const deadline = Date.now() + timeoutMs;
        let found = this.events.slice(from).filter(match);
        while (found.length < count) {
            const left = deadline - Date.now();
            if (left <= 0) {
                throw new Error(`${this.name}: timed out after ${timeoutMs} ms waiting for ${count} × ${what} (saw ${found.length})${this.#outputTail()}`);
            }
            await this.#until(match, left, `${count} × ${what} (saw ${found.length})`);
            found = this.events.slice(from).filter(match);
        }
        return found.slice(0, count);
    }

    /** Stanzas received (direction 'in') or sent ('out') since `from`. */
    stanzas(direction, from = 0) {
        return this.events.slice(from).filter((e) => e.type === direction).map((e) => e.el);
    }

    statuses(from = 0) {
        return this.events.slice(from).filter((e) => e.type === 'status').map((e) => e.status);
    }

    async connect({ service, jid, password = 'password', answerPings = true, timeoutMs = 20_000 }) {
        const { jid: bound } = await this.request('connect', { service, jid, password, answerPings }, timeoutMs);
        this.jid = bound;
        return bound;
    }

    presence(priority) {
        return this.request('presence', { priority });
    }

    /** Pings `to` over XEP-0199; resolves with the result stanza, parsed. */
    async ping(to, timeoutMs = 10_000) {
        const xml = await this.request('ping', { to, timeoutMs }, timeoutMs + 5_000);
        return parseStanza(xml);
    }

    /**
     * Sends the IQ `request` describes (stanzas.mjs: subscribeIQ, publishIQ)
     * and resolves with the answer, result or error, parsed.
     */
    async iq(request, timeoutMs = 10_000) {
        const xml = await this.request('iq', { request, timeoutMs }, timeoutMs + 5_000);
        return parseStanza(xml);
    }

    status() {
        return this.request('status');
    }

    disconnect(timeoutMs = 20_000) {
        return this.request('disconnect', {}, timeoutMs);
    }

    signal(name) {
        if (!this.exited) {
            this.child.kill(name);
        }
    }

    /** Kills the process (SIGKILL works on a stopped one too) and waits for it. */
    async kill() {
        if (this.exited) {
            return this.exited;
        }
        const gone = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
        this.child.kill('SIGKILL');
        return gone;
    }
}

/** Kills every client process still running; for after() hooks. */
export async function killAllClients() {
    await Promise.all([...live].map((client) => client.kill()));
}

export function parseStanza(xml) {
    return new DOMParser().parseFromString(xml, 'text/xml').documentElement;
}

const PING_NS = 'urn:xmpp:ping';

export function childText(el, localName) {
    const child = childElement(el, localName);
    return child ? child.textContent : null;
}

/** An XEP-0199 ping from the server to the client. */
export function isServerPing(el) {
    return el.localName === 'iq' && el.getAttribute('type') === 'get' && childElement(el, 'ping', PING_NS) !== null;
}

/** A presence stanza from `from`; type '' means available (no type attribute). */
export function isPresence(el, from, type) {
    return el.localName === 'presence' && el.getAttribute('from') === from && (el.getAttribute('type') || '') === type;
}

/** Event matchers for waitFor. */
export const received = (test) => (event) => event.type === 'in' && test(event.el);
export const sent = (test) => (event) => event.type === 'out' && test(event.el);
export const statusIs = (status) => (event) => event.type === 'status' && event.status === status;

export function hasChild(el, localName, ns) {
    return childElement(el, localName, ns) !== null;
}
