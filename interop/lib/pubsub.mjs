// Shared pieces of the pubsub interop tests (test/pubsub-*.test.mjs):
//
// - Updates: Finesse <Update> documents with text that is easy to get
//   wrong (&, <, >, quotes, non-ASCII, CR), numbered by their requestId.
// - The administrator's HTTP publish endpoint (POST
//   /finesse-notify/publish?node=… on the REST listener).
// - Reading a pubsub notification (<message><event><items><item>) into a
//   plain object, and the envelope checks that Finesse's clients rely on.
// - PubsubClient: a Strophe.js client in its own Node process that, besides
//   what lib/strophe-child.mjs does, subscribes and publishes (XEP-0060).
//   Its child side is this same module, run as a script (see the end of the
//   file), so the tests need no other file.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import https from 'node:https';
import { fileURLToPath } from 'node:url';

import { DOMParser } from '@xmldom/xmldom';

import { reap } from './reaper.mjs';
import { StropheProcess } from './strophe-process.mjs';

export const PUBSUB_NS = 'http://jabber.org/protocol/pubsub';
export const PUBSUB_EVENT_NS = 'http://jabber.org/protocol/pubsub#event';
export const STANZAS_NS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export const ADMIN = { user: 'admin', password: 'password' };

/** The nodes these tests use (FINESSE-REFERENCE.md §2). */
export const userNode = (id) => `/finesse/api/User/${id}`;
export const dialogsNode = (id) => `/finesse/api/User/${id}/Dialogs`;
export const teamUsersNode = (teamId) => `/finesse/api/Team/${teamId}/Users`;

// ---------------------------------------------------------------------------
// Updates

/**
 * A Finesse <Update> (data, event, requestId, source, as Finesse orders
 * them), numbered by its requestId `${label}-${seq}`.
 *
 * Its character data holds escaped &, < and > (so the notification carries
 * them escaped twice), literal > and quotes, non-ASCII text (accents, CJK,
 * an astral emoji) and a tab. With withCR a CR LF line break too: the HTTP
 * endpoint must carry it as &#xD; so that it survives XML parsing; a client
 * that publishes over XMPP cannot (Strophe does not escape CR, and XML
 * parsers turn a literal CR LF into LF). Every 25th Update is about 12 KB.
 */
export function makeUpdate({ seq, label, source = '/finesse/api/User/1001', withCR = false }) {
    const requestId = `${label}-${String(seq).padStart(3, '0')}`;
    const lineBreak = withCR ? '\r\n' : '\n';
    const dialogs = [];
    const dialogCount = seq % 25 === 0 ? 40 : 1;
    for (let i = 0; i < dialogCount; i++) {
        dialogs.push(
            `<Dialog><fromAddress>+1 (555) 010-${String(i).padStart(4, '0')}</fromAddress>` +
                `<id>${seq}-${i}</id><mediaProperties><callvariables>` +
                `<CallVariable><name>callVariable1</name><value>Ação &amp; Co. &lt;VIP&gt; ${i}</value></CallVariable>` +
                `</callvariables></mediaProperties><state>ACTIVE</state></Dialog>`,
        );
    }
    return (
        '<Update><data><user>' +
        `<dialogs>${dialogs.join('')}</dialogs>` +
        '<extension>3001</extension>' +
        '<firstName>Zoë &amp; José</firstName>' +
        `<lastName>O'Brien "Ace" &lt;Ops&gt; 東京 🎧</lastName>` +
        `<note kind="a &quot;quoted&quot; 'value' &amp; more">line 1${lineBreak}\tline 2: 2 > 1 &amp;&amp; 3 &lt; 4 ]]&gt; #${seq}</note>` +
        `<state>${seq % 2 ? 'READY' : 'NOT_READY'}</state>` +
        '</user></data>' +
        '<event>PUT</event>' +
        `<requestId>${requestId}</requestId>` +
        `<source>${source}</source>` +
        '</Update>'
    );
}

/** The requestId of an Update made by makeUpdate, or null. */
export function requestIdOf(update) {
    const match = /<requestId>([^<]*)<\/requestId>/.exec(update);
    return match ? match[1] : null;
}

// ---------------------------------------------------------------------------
// The administrator's HTTP publish endpoint

/**
 * Publishes raw Updates through POST /finesse-notify/publish?node=… on the
 * REST listener, over one kept-alive HTTPS connection that trusts the
 * server's self-signed certificate.
 */
export class HTTPPublisher {
    constructor(server, { user = ADMIN.user, password = ADMIN.password } = {}) {
        if (!server.restURL) {
            throw new Error('the server was started without its REST listener (startServer({rest: true}))');
        }
        this.baseURL = server.restURL;
        this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
        this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.caPEM });
    }

    /**
     * POSTs body to the endpoint for node. Resolves with {status, headers,
     * body, published}; published is {node, itemId, deliveries} read from a
     * <published/> answer, or null.
     */
    request(node, body, { method = 'POST', timeoutMs = 10_000 } = {}) {
        const url = new URL('/finesse-notify/publish', this.baseURL);
        url.searchParams.set('node', node);
        const data = Buffer.from(body, 'utf8');
        return new Promise((resolve, reject) => {
            const req = https.request(
                url,
                {
                    method,
                    agent: this.agent,
                    headers: {
                        Authorization: this.authorization,
                        'Content-Type': 'application/xml; charset=utf-8',
                        'Content-Length': data.length,
                    },
                },
                (res) => {
                    const chunks = [];
                    res.on('data', (chunk) => chunks.push(chunk));
                    res.on('error', reject);
                    res.on('end', () => {
                        const text = Buffer.concat(chunks).toString('utf8');
                        resolve({ status: res.statusCode, headers: res.headers, body: text, published: readPublished(text) });
                    });
                },
            );
            req.on('error', reject);
            req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
            req.end(data);
        });
    }

    /** Publishes body to node and asserts the endpoint's 200 <published/> answer. */
    async publish(node, body) {
        const res = await this.request(node, body);
        assert.equal(res.status, 200, `POST /finesse-notify/publish?node=${node}: status ${res.status}, body ${res.body}`);
        assert.ok(res.published, `the endpoint answers <published node itemId deliveries/>, got ${res.body}`);
        assert.equal(res.published.node, node, 'the <published/> answer names the node');
        assert.ok(res.published.itemId, 'the <published/> answer names the item');
        return res.published;
    }

    close() {
        this.agent.destroy();
    }
}

function readPublished(text) {
    if (!text.includes('<published')) {
        return null;
    }
    let root;
    try {
        root = new DOMParser({ onError: () => {} }).parseFromString(text, 'text/xml').documentElement;
    } catch {
        return null;
    }
    if (!root || root.localName !== 'published') {
        return null;
    }
    const deliveries = root.getAttribute('deliveries');
    return {
        node: root.getAttribute('node'),
        itemId: root.getAttribute('itemId'),
        deliveries: deliveries === null || deliveries === '' ? null : Number(deliveries),
    };
}

// ---------------------------------------------------------------------------
// Reading stanzas (xmldom elements here; the same DOM calls work in a browser)

function elementChildren(el) {
    const out = [];
    for (let node = el.firstChild; node; node = node.nextSibling) {
        if (node.nodeType === 1) {
            out.push(node);
        }
    }
    return out;
}

function child(el, localName, ns) {
    return elementChildren(el).find((c) => c.localName === localName && (!ns || c.namespaceURI === ns)) ?? null;
}

/**
 * Reads a pubsub items notification. Returns null unless el is a <message>
 * with an <event xmlns='…pubsub#event'><items/> child; otherwise
 * {from, to, id, type, node, items: [{id, payloads: [{localName,
 * namespaceURI, childElements, text}]}]}.
 */
export function readNotification(el) {
    if (!el || el.localName !== 'message') {
        return null;
    }
    const event = child(el, 'event', PUBSUB_EVENT_NS);
    const items = event && child(event, 'items', PUBSUB_EVENT_NS);
    if (!items) {
        return null;
    }
    return {
        from: el.getAttribute('from'),
        to: el.getAttribute('to'),
        id: el.getAttribute('id'),
        type: el.getAttribute('type'),
        node: items.getAttribute('node'),
        items: elementChildren(items)
            .filter((c) => c.localName === 'item')
            .map((item) => ({
                id: item.getAttribute('id'),
                payloads: elementChildren(item).map((payload) => ({
                    localName: payload.localName,
                    namespaceURI: payload.namespaceURI,
                    childElements: elementChildren(payload).length,
                    text: payload.textContent,
                })),
            })),
    };
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
// Openfire's item ids, which Finesse's carry: a UUID and then digits.
const ITEM_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[0-9]+$/;

/**
 * Asserts the envelope Finesse sends (FINESSE-REFERENCE.md §3.1) and
 * returns {itemId, text}: the item's id and its <notification>'s text.
 * @param {object} n a readNotification result
 * @param {{domain: string, node: string, to: string, what?: string}} expected
 */
export function checkEnvelope(n, { domain, node, to, what = 'notification' }) {
    assert.ok(n, `${what}: is a pubsub items notification`);
    assert.equal(n.from, `pubsub.${domain}`, `${what}: from the pubsub service`);
    assert.equal(n.to, to, `${what}: to the subscription's JID`);
    assert.equal(n.type, null, `${what}: no type attribute, as Finesse sends it`);
    assert.equal(n.node, node, `${what}: <items node>`);
    assert.match(n.id ?? '', new RegExp(`^${escapeRegExp(`${node}__${to}__`)}[0-9A-Za-z]{5}$`), `${what}: message id is <node>__<jid>__<5 characters>`);
    assert.equal(n.items.length, 1, `${what}: one item`);
    const [item] = n.items;
    assert.match(item.id ?? '', ITEM_ID, `${what}: the item id is a UUID followed by digits`);
    assert.equal(item.payloads.length, 1, `${what}: one payload element`);
    const [payload] = item.payloads;
    assert.equal(payload.localName, 'notification', `${what}: the payload is <notification>`);
    assert.equal(payload.namespaceURI, PUBSUB_NS, `${what}: <notification xmlns='${PUBSUB_NS}'>`);
    assert.equal(payload.childElements, 0, `${what}: the Update is escaped text, not child elements`);
    return { itemId: item.id, text: payload.text };
}

/** Asserts an IQ error reply with the given type and defined condition. */
export function checkIQError(iq, { type, condition, from }) {
    assert.equal(iq.localName, 'iq');
    assert.equal(iq.getAttribute('type'), 'error', 'the answer is an IQ error');
    if (from) {
        assert.equal(iq.getAttribute('from'), from, 'the error comes from the service');
    }
    const error = child(iq, 'error');
    assert.ok(error, 'the IQ error carries <error/>');
    assert.equal(error.getAttribute('type'), type, `<error type='${type}'>`);
    assert.ok(child(error, condition, STANZAS_NS), `<error> holds <${condition} xmlns='${STANZAS_NS}'/>`);
}

/** Reads <pubsub><subscription/></pubsub> from a subscribe result, or null. */
export function readSubscription(iq) {
    const pubsub = child(iq, 'pubsub', PUBSUB_NS);
    const subscription = pubsub && child(pubsub, 'subscription', PUBSUB_NS);
    if (!subscription) {
        return null;
    }
    return Object.fromEntries(['node', 'jid', 'subid', 'subscription'].map((name) => [name, subscription.getAttribute(name)]));
}

/** Reads the item id from a publish result (<pubsub><publish><item id/>), or null. */
export function readPublishedItemId(iq) {
    const pubsub = child(iq, 'pubsub', PUBSUB_NS);
    const publish = pubsub && child(pubsub, 'publish', PUBSUB_NS);
    const item = publish && child(publish, 'item', PUBSUB_NS);
    return item ? item.getAttribute('id') : null;
}

/** Available presence from the Finesse service user (finesse@domain/…). */
export function isFinessePresence(el, domain) {
    const from = el.getAttribute('from') ?? '';
    return el.localName === 'presence' && from.startsWith(`finesse@${domain}/`) && !el.getAttribute('type');
}

// ---------------------------------------------------------------------------
// PubsubClient: the parent's side

/** Matches a PubsubClient event that is a notification received (on node, if given). */
export const isNotificationEvent = (node = null) => (e) =>
    e.type === 'in' && e.notification != null && (node === null || e.notification.node === node);

const thisFile = fileURLToPath(import.meta.url);

export class PubsubClient extends StropheProcess {
    /** Starts a client process (this module as a script) and waits until it accepts commands. */
    static async start(name, { caFile } = {}) {
        const env = { ...process.env, INTEROP_PUBSUB_CHILD: '1' };
        if (caFile) {
            env.NODE_EXTRA_CA_CERTS = caFile;
        }
        const childProcess = fork(thisFile, [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
        reap(childProcess);
        const client = new PubsubClient(name, childProcess);
        await client.waitFor((m) => m.type === 'ready', { from: 0, timeoutMs: 15_000, what: 'the client process to start' });
        return client;
    }

    /** Subscribes jid to node at `to`; resolves with the answer (result or error), parsed. */
    async subscribe({ to, node, jid, timeoutMs = 10_000 }) {
        const xml = await this.request('subscribe', { to, node, jid, timeoutMs }, timeoutMs + 5_000);
        return new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    }

    /**
     * Publishes text as the escaped content of <notification xmlns='…pubsub'>
     * (XEP-0060 publish, no item id); resolves with the answer, parsed.
     */
    async publishNotification({ to, node, text, timeoutMs = 10_000 }) {
        const xml = await this.request('publish', { to, node, text, timeoutMs }, timeoutMs + 5_000);
        return new DOMParser().parseFromString(xml, 'text/xml').documentElement;
    }

    /**
     * Notifications received since event index `from` (on node, if given),
     * as the client process read them (readNotification) from the DOM
     * Strophe built off the wire. They are not read from the events'
     * serialized XML: serializing and parsing again would turn a CR the
     * server sent as &#xD; into a line feed.
     */
    notifications(from = 0, node = null) {
        return this.events
            .slice(from)
            .filter(isNotificationEvent(node))
            .map((e) => e.notification);
    }
}

// ---------------------------------------------------------------------------
// PubsubClient: the child's side, when this module runs as a script
//
// The protocol is lib/strophe-child.mjs's (commands {id, cmd, args}, one
// reply each; 'ready', 'status', 'in' and 'out' events) with the commands
// connect, presence, subscribe, publish, status and disconnect.

async function runChild() {
    const { Strophe, $iq, $pres } = await import('strophe.js');
    const { XMLSerializer } = await import('@xmldom/xmldom');
    const { default: XMLHttpRequestForNode } = await import('xhr2');

    // Strophe reads BOSH responses from responseXML, which xhr2 leaves empty.
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

    const serializer = new XMLSerializer();
    const statusNames = Object.fromEntries(Object.entries(Strophe.Status).map(([key, value]) => [value, key]));
    let conn = null;
    let status = 'NONE';
    const statusWaiters = new Set();

    const emit = (message) => {
        if (process.connected) {
            process.send(message);
        }
    };
    const stanzasOf = (elem) => (elem && elem.localName === 'body' ? elementChildren(elem) : elem ? [elem] : []);

    const onStatus = (value, condition) => {
        status = statusNames[value] ?? String(value);
        emit({ type: 'status', status, condition: condition ?? null });
        for (const waiter of statusWaiters) {
            if (waiter.want.includes(status)) {
                statusWaiters.delete(waiter);
                waiter.resolve(status);
            } else if (waiter.fail.includes(status)) {
                statusWaiters.delete(waiter);
                waiter.reject(new Error(`Strophe status ${status}${condition ? ` (${condition})` : ''}`));
            }
        }
    };
    const untilStatus = (want, fail = []) =>
        new Promise((resolve, reject) => statusWaiters.add({ want, fail, resolve, reject }));

    // Resolves with the serialized answer, result or error; rejects on timeout.
    const sendIQ = (iq, timeoutMs) =>
        new Promise((resolve, reject) => {
            conn.sendIQ(
                iq,
                (result) => resolve(serializer.serializeToString(result)),
                (error) => (error ? resolve(serializer.serializeToString(error)) : reject(new Error(`no answer within ${timeoutMs} ms`))),
                timeoutMs,
            );
        });

    const commands = {
        async connect({ service, jid, password }) {
            if (conn) {
                throw new Error('already connected');
            }
            conn = new Strophe.Connection(service);
            // A notification is also read here, from the DOM Strophe built
            // off the wire (see PubsubClient.notifications).
            conn.xmlInput = (elem) =>
                stanzasOf(elem).forEach((s) => emit({ type: 'in', xml: serializer.serializeToString(s), notification: readNotification(s) }));
            conn.xmlOutput = (elem) => stanzasOf(elem).forEach((s) => emit({ type: 'out', xml: serializer.serializeToString(s) }));
            // Answer server pings (XEP-0199) as a well-behaved client does.
            conn.addHandler(
                (iq) => {
                    const reply = $iq({ type: 'result', id: iq.getAttribute('id') });
                    if (iq.getAttribute('from')) {
                        reply.attrs({ to: iq.getAttribute('from') });
                    }
                    conn.send(reply);
                    return true;
                },
                'urn:xmpp:ping',
                'iq',
                'get',
            );
            const connected = untilStatus(['CONNECTED'], ['CONNFAIL', 'AUTHFAIL', 'DISCONNECTED', 'CONNTIMEOUT', 'ERROR']);
            conn.connect(jid, password, onStatus);
            await connected;
            return { jid: conn.jid };
        },

        presence({ priority }) {
            const presence = $pres();
            if (priority !== undefined && priority !== null) {
                presence.c('priority').t(String(priority));
            }
            conn.send(presence);
            return null;
        },

        // <subscribe node jid/> (XEP-0060 §6.1), as Strophe applications send it.
        subscribe({ to, node, jid, timeoutMs }) {
            const iq = $iq({ type: 'set', to }).c('pubsub', { xmlns: PUBSUB_NS }).c('subscribe', { node, jid });
            return sendIQ(iq, timeoutMs);
        },

        // <publish node><item><notification>text</notification></item></publish>
        // (XEP-0060 §7.1); Strophe escapes the text.
        publish({ to, node, text, timeoutMs }) {
            const iq = $iq({ type: 'set', to })
                .c('pubsub', { xmlns: PUBSUB_NS })
                .c('publish', { node })
                .c('item')
                .c('notification', { xmlns: PUBSUB_NS })
                .t(text);
            return sendIQ(iq, timeoutMs);
        },

        status() {
            return status;
        },

        async disconnect() {
            if (!conn || status === 'DISCONNECTED') {
                return status;
            }
            const done = untilStatus(['DISCONNECTED']);
            conn.disconnect('interop test done');
            return done;
        },
    };

    process.on('message', async ({ id, cmd, args }) => {
        try {
            const handler = commands[cmd];
            if (!handler) {
                throw new Error(`unknown command ${cmd}`);
            }
            emit({ type: 'reply', id, ok: true, value: await handler(args ?? {}) });
        } catch (err) {
            emit({ type: 'reply', id, ok: false, error: err?.message ?? String(err) });
        }
    });
    process.on('disconnect', () => process.exit(0));
    emit({ type: 'ready' });
}

if (process.env.INTEROP_PUBSUB_CHILD === '1' && process.argv[1] === thisFile && process.send) {
    runChild();
}
