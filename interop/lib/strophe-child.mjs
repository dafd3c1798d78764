// One Strophe.js client in its own Node process, driven by its parent over
// the IPC channel (see strophe-process.mjs for the parent's side).
//
// Why a process of its own: the suite must be able to freeze a client with
// SIGSTOP (its sockets stay open and nothing answers), and each client gets
// the server's self-signed certificate through NODE_EXTRA_CA_CERTS, which
// Node reads only at start.
//
// Messages from the parent: {id, cmd, args}. Every command gets exactly one
// {type: 'reply', id, ok, value | error}. Unprompted events:
//   {type: 'ready'}                          once, when commands are accepted
//   {type: 'status', status, condition}      every Strophe connection status
//   {type: 'in', xml} / {type: 'out', xml}   every stanza received / sent
//   {type: 'server-ping', id}                a server ping our handler answered
// An 'in' event that is a pubsub notification also carries `notification`,
// the stanza read by readNotification (stanzas.mjs) from the DOM Strophe
// built off the wire: the parent cannot read it from `xml`, because
// serializing and parsing again turns a CR the server sent as &#xD; into a
// line feed.

import { Strophe, $iq, $pres } from 'strophe.js';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import XMLHttpRequestForNode from 'xhr2';

import { buildIQ, elementChildren, readNotification } from './stanzas.mjs';

// Strophe reads BOSH responses from xhr.responseXML, which xhr2 never fills:
// without this, a BOSH connection stays in CONNECTING forever. Build the
// document from the response text, once per response.
class XMLHttpRequestWithXML extends XMLHttpRequestForNode {
    get responseXML() {
        const text = this.responseText;
        if (!text) {
            return null;
        }
        if (this._parsedFrom !== text) {
            this._parsedFrom = text;
            this._parsedXML = new DOMParser().parseFromString(text, 'text/xml');
        }
        return this._parsedXML;
    }
}
globalThis.XMLHttpRequest = XMLHttpRequestWithXML;

const PING_NS = 'urn:xmpp:ping'; // XEP-0199
const serializer = new XMLSerializer();
const statusNames = Object.fromEntries(Object.entries(Strophe.Status).map(([name, value]) => [value, name]));

let conn = null;
let status = 'NONE';
const statusWaiters = new Set(); // {want: Set<string>, fail: Set<string>, resolve, reject}

function emit(message) {
    if (process.connected) {
        process.send(message);
    }
}

// Strophe hands xmlInput/xmlOutput a BOSH <body/> wrapper or, over
// WebSocket, the stanza itself; report stanzas either way.
function stanzasOf(elem) {
    if (elem && elem.localName === 'body') {
        return elementChildren(elem);
    }
    return elem ? [elem] : [];
}

function onStatus(value, condition) {
    status = statusNames[value] ?? String(value);
    emit({ type: 'status', status, condition: condition ?? null });
    for (const waiter of statusWaiters) {
        if (waiter.want.has(status)) {
            statusWaiters.delete(waiter);
            waiter.resolve(status);
        } else if (waiter.fail.has(status)) {
            statusWaiters.delete(waiter);
            waiter.reject(new Error(`Strophe status ${status}${condition ? ` (${condition})` : ''}`));
        }
    }
}

function untilStatus(want, fail) {
    return new Promise((resolve, reject) => {
        statusWaiters.add({ want: new Set(want), fail: new Set(fail), resolve, reject });
    });
}

// Sends an IQ and resolves with the answer, result or error; rejects with
// `timeoutMessage` when none comes within timeoutMs.
function sendIQ(iq, timeoutMs, timeoutMessage) {
    return new Promise((resolve, reject) => {
        conn.sendIQ(iq, resolve, (error) => (error ? resolve(error) : reject(new Error(timeoutMessage))), timeoutMs);
    });
}

const commands = {
    // Connects and resolves with the bound JID once Strophe says CONNECTED.
    // answerPings adds an XEP-0199 handler; without it Strophe's own fallback
    // answers a server ping with a service-unavailable error.
    async connect({ service, jid, password, answerPings }) {
        if (conn) {
            throw new Error('already connected');
        }
        conn = new Strophe.Connection(service);
        conn.xmlInput = (elem) => {
            for (const stanza of stanzasOf(elem)) {
                const event = { type: 'in', xml: serializer.serializeToString(stanza) };
                const notification = readNotification(stanza);
                if (notification) {
                    event.notification = notification;
                }
                emit(event);
            }
        };
        conn.xmlOutput = (elem) => {
            for (const stanza of stanzasOf(elem)) {
                emit({ type: 'out', xml: serializer.serializeToString(stanza) });
            }
        };
        if (answerPings) {
            conn.addHandler((iq) => {
                const id = iq.getAttribute('id');
                const reply = $iq({ type: 'result', id });
                const from = iq.getAttribute('from');
                if (from) {
                    reply.attrs({ to: from });
                }
                conn.send(reply);
                emit({ type: 'server-ping', id });
                return true; // keep the handler for the next ping
            }, PING_NS, 'iq', 'get');
        }
        const connected = untilStatus(['CONNECTED'], ['CONNFAIL', 'AUTHFAIL', 'DISCONNECTED', 'CONNTIMEOUT', 'ERROR']);
        conn.connect(jid, password, onStatus);
        await connected;
        return { jid: conn.jid };
    },

    async presence({ priority }) {
        const presence = $pres();
        if (priority !== undefined && priority !== null) {
            presence.c('priority').t(String(priority));
        }
        conn.send(presence);
        return null;
    },

    // Pings `to` (XEP-0199) and resolves with the serialized result.
    async ping({ to, timeoutMs }) {
        const answer = await sendIQ($iq({ type: 'get', to }).c('ping', { xmlns: PING_NS }), timeoutMs, 'ping timed out');
        const xml = serializer.serializeToString(answer);
        if (answer.getAttribute('type') !== 'result') {
            throw new Error(`ping failed: ${xml}`);
        }
        return xml;
    },

    // Sends the IQ `request` describes (stanzas.mjs: subscribeIQ, publishIQ),
    // built with Strophe's builder, and resolves with the serialized answer,
    // result or error.
    async iq({ request, timeoutMs }) {
        const answer = await sendIQ(buildIQ($iq, request), timeoutMs, `no answer within ${timeoutMs} ms`);
        return serializer.serializeToString(answer);
    },

    status() {
        return status;
    },

    async disconnect() {
        if (!conn || status === 'DISCONNECTED') {
            return status;
        }
        const done = untilStatus(['DISCONNECTED'], []);
        conn.disconnect('interop test done');
        return done;
    },
};

process.on('message', async (message) => {
    const { id, cmd, args } = message;
    try {
        const handler = commands[cmd];
        if (!handler) {
            throw new Error(`unknown command ${cmd}`);
        }
        const value = await handler(args ?? {});
        emit({ type: 'reply', id, ok: true, value });
    } catch (err) {
        emit({ type: 'reply', id, ok: false, error: err?.message ?? String(err) });
    }
});

// Without a parent there is nobody to drive or stop us.
process.on('disconnect', () => process.exit(0));

emit({ type: 'ready' });
