// Shared pieces of the pubsub interop tests (test/pubsub-*.test.mjs):
//
// - Updates: Finesse <Update> documents with text that is easy to get
//   wrong (&, <, >, quotes, non-ASCII, CR), numbered by their requestId.
// - The administrator's HTTP publish endpoint (POST
//   /finesse-notify/publish?node=… on the REST listener).
// - The envelope checks that Finesse's clients rely on, made of a pubsub
//   notification read by readNotification (lib/stanzas.mjs).
// - PubsubClient: a Strophe.js client process (lib/strophe-child.mjs) that
//   subscribes, publishes (XEP-0060) and lists the notifications it read.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import https from 'node:https';

import { DOMParser } from '@xmldom/xmldom';

import { PUBSUB_NS, childElement, publishIQ, subscribeIQ } from './stanzas.mjs';
import { StropheProcess, received } from './strophe-process.mjs';

export { PUBSUB_EVENT_NS, PUBSUB_NS, readNotification } from './stanzas.mjs';
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

/**
 * Publishes Updates 1…count one after the other, each awaited:
 * publishOne(seq) publishes Update seq and resolves with {update, itemId}.
 * Resolves with {updates, itemIds}, in publish order.
 */
export async function publishInOrder(count, publishOne) {
    const updates = [];
    const itemIds = [];
    for (let seq = 1; seq <= count; seq++) {
        const { update, itemId } = await publishOne(seq);
        updates.push(update);
        itemIds.push(itemId);
    }
    return { updates, itemIds };
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
// Checking stanzas (xmldom elements)

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
    const error = childElement(iq, 'error');
    assert.ok(error, 'the IQ error carries <error/>');
    assert.equal(error.getAttribute('type'), type, `<error type='${type}'>`);
    assert.ok(childElement(error, condition, STANZAS_NS), `<error> holds <${condition} xmlns='${STANZAS_NS}'/>`);
}

/** Reads <pubsub><subscription/></pubsub> from a subscribe result, or null. */
export function readSubscription(iq) {
    const pubsub = childElement(iq, 'pubsub', PUBSUB_NS);
    const subscription = pubsub && childElement(pubsub, 'subscription', PUBSUB_NS);
    if (!subscription) {
        return null;
    }
    return Object.fromEntries(['node', 'jid', 'subid', 'subscription'].map((name) => [name, subscription.getAttribute(name)]));
}

/** Reads the item id from a publish result (<pubsub><publish><item id/>), or null. */
export function readPublishedItemId(iq) {
    const pubsub = childElement(iq, 'pubsub', PUBSUB_NS);
    const publish = pubsub && childElement(pubsub, 'publish', PUBSUB_NS);
    const item = publish && childElement(publish, 'item', PUBSUB_NS);
    return item ? item.getAttribute('id') : null;
}

/** Available presence from the Finesse service user (finesse@domain/…). */
export function isFinessePresence(el, domain) {
    const from = el.getAttribute('from') ?? '';
    return el.localName === 'presence' && from.startsWith(`finesse@${domain}/`) && !el.getAttribute('type');
}

// ---------------------------------------------------------------------------
// PubsubClient

/** Matches a PubsubClient event that is a notification received (on node, if given). */
export const isNotificationEvent = (node = null) => (e) =>
    e.type === 'in' && e.notification != null && (node === null || e.notification.node === node);

export class PubsubClient extends StropheProcess {
    /**
     * Starts a client that logs `user` in over transport with a fresh
     * resource, sends presence with priority 0 and waits for Finesse's
     * presence, which a desktop waits for before it reports "connected".
     * When test t ends the client disconnects, if a failure left it
     * connected, and its process is killed, so that no session is left
     * behind to receive the next test's Updates.
     */
    static async online(t, server, transport, user, label, password = 'password') {
        const client = await PubsubClient.start(`${transport.name} ${label}`, { caFile: server.caFile });
        t.after(async () => {
            // After a failure, end the session cleanly if the client can.
            if (!client.exited && (await client.status().catch(() => null)) === 'CONNECTED') {
                await client.disconnect(5_000).catch(() => {});
            }
            await client.kill();
        });
        const wanted = `${user}@${server.domain}/${label}-${randomBytes(4).toString('hex')}`;
        assert.equal(await client.connect({ service: transport.service(server), jid: wanted, password }), wanted, 'bound JID');
        const beforePresence = client.events.length;
        await client.presence(0);
        await client.waitFor(received((el) => isFinessePresence(el, server.domain)), {
            from: beforePresence,
            timeoutMs: 10_000,
            what: `available presence from finesse@${server.domain}/…`,
        });
        return client;
    }

    /** Subscribes jid to node at `to`; resolves with the answer (result or error), parsed. */
    subscribe({ to, node, jid, timeoutMs = 10_000 }) {
        return this.iq(subscribeIQ({ to, node, jid }), timeoutMs);
    }

    /**
     * Publishes text as the escaped content of <notification xmlns='…pubsub'>
     * (XEP-0060 publish, no item id); resolves with the answer, parsed.
     */
    publishNotification({ to, node, text, timeoutMs = 10_000 }) {
        return this.iq(publishIQ({ to, node, text }), timeoutMs);
    }

    /**
     * Notifications received since event index `from` (on node, if given),
     * as the client process read them from the DOM Strophe built off the
     * wire (see lib/strophe-child.mjs): not from the events' serialized XML,
     * because serializing and parsing again would turn a CR the server sent
     * as &#xD; into a line feed.
     */
    notifications(from = 0, node = null) {
        return this.events
            .slice(from)
            .filter(isNotificationEvent(node))
            .map((e) => e.notification);
    }
}
