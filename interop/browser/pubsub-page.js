// Runs in headless Chromium, on an origin other than the server's. Holds
// several Strophe.js connections by name (an agent, a supervisor, the
// administrator) over BOSH or WebSocket, and records what each receives,
// so that the test (test/pubsub-browser.test.mjs) can ask through
// window.pubsub:
//   connect(name, {service, jid, password})     -> {jid}
//   presence(name, priority)                    sends initial presence
//   waitForPresence(name, fromPrefix, timeoutMs) -> {from, type}
//   subscribe(name, {to, node, jid})            -> {type, xml} of the answer
//   publish(name, {to, node, text})             -> {type, xml} of the answer
//   notifications(name, {node, count, timeoutMs}) -> [{xml, text}]
//   notifiedNodes(name)                         -> <items node> of each so far
//   pubsubRequests(name)                        -> pubsub requests sent so far
//   disconnect(name)                            -> final status
// `text` is the <notification>'s textContent as Chromium's DOM gives it,
// which is what Cisco's desktop forwards and parses; `xml` is the whole
// <message>, for the test to check the envelope.
//
// A module: the XEP-0060 requests come from lib/stanzas.mjs, which the test
// serves as /stanzas.mjs, so that the page sends the very requests the Node
// clients send. Strophe.js is the UMD build's globals (Strophe, $iq, $pres).

import { PUBSUB_EVENT_NS, PUBSUB_NS, buildIQ, publishIQ, subscribeIQ } from '/stanzas.mjs';

const PING_NS = 'urn:xmpp:ping'; // XEP-0199
const statusNames = {};
for (const [key, value] of Object.entries(Strophe.Status)) {
    statusNames[value] = key;
}
const serializer = new XMLSerializer();
const clients = new Map(); // name -> {conn, status, statusListeners, presences, messages, waiters}

function log(line) {
    document.getElementById('log').textContent += line + '\n';
}

function client(name) {
    const c = clients.get(name);
    if (!c) {
        throw new Error('no connection named ' + name);
    }
    return c;
}

// Resolves when check() returns a value other than undefined, checked
// now and after every stanza the connection receives.
function until(c, check, timeoutMs, what) {
    return new Promise((resolve, reject) => {
        const now = check();
        if (now !== undefined) {
            resolve(now);
            return;
        }
        const waiter = () => {
            const value = check();
            if (value !== undefined) {
                c.waiters.delete(waiter);
                clearTimeout(timer);
                resolve(value);
            }
        };
        const timer = setTimeout(() => {
            c.waiters.delete(waiter);
            reject(new Error('timed out after ' + timeoutMs + ' ms waiting for ' + what));
        }, timeoutMs);
        c.waiters.add(waiter);
    });
}

// Resolves when the connection reaches a status in want, rejects on one in
// fail or after timeoutMs: every wait of the page is bounded, so a stuck
// connection fails its test with a reason instead of hanging the suite.
function untilStatus(c, want, fail, timeoutMs = 30000) {
    return new Promise((resolve, reject) => {
        const listener = (status, condition) => {
            if (want.includes(status)) {
                c.statusListeners.delete(listener);
                clearTimeout(timer);
                resolve(status);
            } else if (fail.includes(status)) {
                c.statusListeners.delete(listener);
                clearTimeout(timer);
                reject(new Error('Strophe status ' + status + (condition ? ' (' + condition + ')' : '')));
            }
        };
        const timer = setTimeout(() => {
            c.statusListeners.delete(listener);
            reject(new Error('timed out after ' + timeoutMs + ' ms waiting for status ' + want.join(' or ') + ' (now ' + c.status + ')'));
        }, timeoutMs);
        c.statusListeners.add(listener);
    });
}

function answerOf(stanza) {
    return { type: stanza.getAttribute('type'), xml: serializer.serializeToString(stanza) };
}

function sendIQ(c, iq, timeoutMs) {
    return new Promise((resolve, reject) => {
        c.conn.sendIQ(
            iq,
            (result) => resolve(answerOf(result)),
            (error) => (error ? resolve(answerOf(error)) : reject(new Error('no answer within ' + timeoutMs + ' ms'))),
            timeoutMs,
        );
    });
}

function itemsNodeOf(message) {
    const items = message.getElementsByTagNameNS(PUBSUB_EVENT_NS, 'items')[0];
    return items ? items.getAttribute('node') : null;
}

window.pubsub = {
    async connect(name, { service, jid, password }) {
        if (clients.has(name)) {
            throw new Error('a connection named ' + name + ' exists');
        }
        const c = {
            conn: new Strophe.Connection(service),
            status: 'NONE',
            statusListeners: new Set(),
            presences: [],
            messages: [],
            waiters: new Set(),
            pubsubRequests: 0,
        };
        clients.set(name, c);
        // Count the pubsub requests this connection sends (a BOSH
        // <body/> wraps stanzas; over WebSocket each comes alone).
        // Strophe's builder sets xmlns as a plain attribute, so the
        // elements it makes have no namespace in the DOM: match by name
        // and attribute.
        c.conn.xmlOutput = (elem) => {
            const stanzas = elem.localName === 'body' ? Array.from(elem.children) : [elem];
            for (const stanza of stanzas) {
                const pubsub = Array.from(stanza.getElementsByTagName('pubsub'));
                if (pubsub.some((el) => el.getAttribute('xmlns') === PUBSUB_NS)) {
                    c.pubsubRequests++;
                }
            }
        };
        const notify = () => {
            for (const waiter of Array.from(c.waiters)) {
                waiter();
            }
        };
        c.conn.addHandler((presence) => {
            c.presences.push({ from: presence.getAttribute('from'), type: presence.getAttribute('type') });
            notify();
            return true;
        }, null, 'presence');
        c.conn.addHandler((message) => {
            const notification = message.getElementsByTagNameNS(PUBSUB_NS, 'notification')[0];
            c.messages.push({
                node: itemsNodeOf(message),
                xml: serializer.serializeToString(message),
                text: notification ? notification.textContent : null,
            });
            notify();
            return true;
        }, null, 'message');
        // Answer server pings (XEP-0199) as a well-behaved client does.
        c.conn.addHandler((iq) => {
            const reply = $iq({ type: 'result', id: iq.getAttribute('id') });
            if (iq.getAttribute('from')) {
                reply.attrs({ to: iq.getAttribute('from') });
            }
            c.conn.send(reply);
            return true;
        }, PING_NS, 'iq', 'get');
        const connected = untilStatus(c, ['CONNECTED'], ['CONNFAIL', 'AUTHFAIL', 'DISCONNECTED', 'CONNTIMEOUT', 'ERROR']);
        c.conn.connect(jid, password, (value, condition) => {
            c.status = statusNames[value] || String(value);
            log(name + ': status ' + c.status + (condition ? ' (' + condition + ')' : ''));
            for (const listener of Array.from(c.statusListeners)) {
                listener(c.status, condition);
            }
        });
        await connected;
        return { jid: c.conn.jid };
    },

    presence(name, priority) {
        client(name).conn.send($pres().c('priority').t(String(priority)));
    },

    waitForPresence(name, fromPrefix, timeoutMs) {
        const c = client(name);
        return until(
            c,
            () => c.presences.find((p) => (p.from || '').startsWith(fromPrefix) && !p.type),
            timeoutMs,
            'available presence from ' + fromPrefix + '…',
        );
    },

    subscribe(name, { to, node, jid, timeoutMs = 10000 }) {
        return sendIQ(client(name), buildIQ($iq, subscribeIQ({ to, node, jid })), timeoutMs);
    },

    publish(name, { to, node, text, timeoutMs = 10000 }) {
        return sendIQ(client(name), buildIQ($iq, publishIQ({ to, node, text })), timeoutMs);
    },

    // Every message received so far whose <items node> is node, once
    // there are at least count of them.
    notifications(name, { node, count, timeoutMs = 60000 }) {
        const c = client(name);
        return until(
            c,
            () => {
                const found = c.messages.filter((m) => m.node === node);
                return found.length >= count ? found.map((m) => ({ xml: m.xml, text: m.text })) : undefined;
            },
            timeoutMs,
            count + ' notifications on ' + node + ' (have ' + c.messages.filter((m) => m.node === node).length + ')',
        );
    },

    // How many stanzas with a <pubsub xmlns='…pubsub'/> the connection sent.
    pubsubRequests(name) {
        return client(name).pubsubRequests;
    },

    // The nodes of every pubsub notification received so far, in order.
    notifiedNodes(name) {
        return client(name).messages.map((m) => m.node);
    },

    async disconnect(name) {
        const c = client(name);
        clients.delete(name);
        if (c.status === 'DISCONNECTED') {
            return c.status;
        }
        const done = untilStatus(c, ['DISCONNECTED'], []);
        c.conn.disconnect('interop test done');
        return done;
    },
};
