// Finesse notifications through pubsub.<domain> to Strophe.js in headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core), over
// BOSH and over WebSocket, from a page on another origin
// (http://127.0.0.1:<port>) than the server's, as a desktop gadget is:
//
// - agent 1001 sends presence with priority 0, waits for presence from
//   finesse@<domain>/…, and without subscribing receives 100 Updates the
//   administrator publishes to /finesse/api/User/1001 through the HTTP
//   endpoint, in order; Chromium's textContent of each <notification> is
//   exactly the Update published;
// - 1001's subscribe to /finesse/api/User/1002/Dialogs is refused with
//   forbidden;
// - supervisor 2001 subscribes to /finesse/api/Team/1/Users with its full
//   JID and receives what the administrator, also in the page, publishes
//   there with XEP-0060, and what the HTTP endpoint publishes there.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { DOMParser } from '@xmldom/xmldom';

import { recordConsole, startBrowser } from '../lib/browser.mjs';
import {
    ADMIN,
    HTTPPublisher,
    checkEnvelope,
    checkIQError,
    dialogsNode,
    makeUpdate,
    publishInOrder,
    readPublishedItemId,
    readNotification,
    readSubscription,
    requestIdOf,
    teamUsersNode,
    userNode,
} from '../lib/pubsub.mjs';
import { TRANSPORTS, startServer, stopServer } from '../lib/server.mjs';

const UPDATES = 100;

let server;
let publisher;
let browser;

before(async () => {
    browser = await startBrowser({
        pages: { '/': 'browser/pubsub.html', '/pubsub-page.js': 'browser/pubsub-page.js', '/stanzas.mjs': 'lib/stanzas.mjs' },
    });
    server = await startServer({ name: 'pubsub-browser', rest: true });
    publisher = new HTTPPublisher(server);
});

after(async () => {
    publisher?.close();
    await browser?.close();
    await stopServer(server);
});

const parse = (xml) => new DOMParser().parseFromString(xml, 'text/xml').documentElement;

// A fresh page on the other origin, closed when test t ends; call(fn, arg)
// evaluates in it and adds the page's console and the server's log to any
// failure.
async function openPage(t) {
    const page = await browser.context.newPage();
    const pageConsole = recordConsole(page);
    t.after(() => page.close().catch(() => {}));
    await page.goto(browser.pageURL, { timeout: 30_000 });
    return {
        async call(fn, arg) {
            try {
                return await page.evaluate(fn, arg);
            } catch (err) {
                err.message += `${pageConsole()}${server.logTail()}`;
                throw err;
            }
        },
    };
}

// Logs `user` in in the page as connection `name`, sends presence with
// priority 0 and waits for Finesse's presence; returns the bound JID.
async function online(page, transport, name, user, password = 'password') {
    const wanted = `${user}@${server.domain}/chromium-${name}-${randomBytes(4).toString('hex')}`;
    const { jid } = await page.call(
        ({ name, options }) => window.pubsub.connect(name, options),
        { name, options: { service: transport.service(server), jid: wanted, password } },
    );
    assert.equal(jid, wanted, 'bound JID');
    await page.call(({ name }) => window.pubsub.presence(name, 0), { name });
    await page.call(
        ({ name, prefix }) => window.pubsub.waitForPresence(name, prefix, 10_000),
        { name, prefix: `finesse@${server.domain}/` },
    );
    return jid;
}

function notifications(page, name, node, count) {
    return page.call(({ name, node, count }) => window.pubsub.notifications(name, { node, count }), { name, node, count });
}

async function offline(page, ...names) {
    for (const name of names) {
        assert.equal(await page.call(({ name }) => window.pubsub.disconnect(name), { name }), 'DISCONNECTED', `${name} disconnects cleanly`);
    }
}

// Checks what the page received on node: Finesse's envelope (read from the
// serialized message), publish order, Chromium's text of each
// <notification> exactly the Update, the item ids the publishers were told.
function checkReceived(received, { node, to, updates, itemIds }) {
    assert.equal(received.length, updates.length, `exactly ${updates.length} notifications on ${node}`);
    const envelopes = received.map((r, i) =>
        checkEnvelope(readNotification(parse(r.xml)), { domain: server.domain, node, to, what: `notification ${i + 1}` }),
    );
    assert.deepEqual(
        received.map((r) => requestIdOf(r.text ?? '')),
        updates.map(requestIdOf),
        'the Updates arrive in the order they were published',
    );
    for (let i = 0; i < updates.length; i++) {
        assert.equal(received[i].text, updates[i], `notification ${i + 1}: Chromium's textContent of <notification> is exactly the Update`);
    }
    assert.deepEqual(envelopes.map((e) => e.itemId), itemIds, 'each item id is the one the publisher was told');
}

for (const transport of TRANSPORTS) {
    describe(`pubsub with Strophe.js in headless Chromium over ${transport.name}`, () => {
        test(`agent 1001, subscribed automatically, receives ${UPDATES} Updates from the HTTP publish endpoint in order, byte for byte`, async (t) => {
            const page = await openPage(t);
            await online(page, transport, 'agent', '1001');
            const node = userNode('1001');

            const { updates, itemIds } = await publishInOrder(UPDATES, async (seq) => {
                const update = makeUpdate({ seq, label: `chromium-${transport.name}-http`, withCR: seq % 10 === 7 });
                const published = await publisher.publish(node, update);
                assert.equal(published.deliveries, 1, `Update ${seq}: delivered to 1001's one available session`);
                return { update, itemId: published.itemId };
            });

            const received = await notifications(page, 'agent', node, UPDATES);
            checkReceived(received, { node, to: `1001@${server.domain}`, updates, itemIds });
            assert.equal(
                await page.call(() => window.pubsub.pubsubRequests('agent')),
                0,
                'the agent never sent a pubsub request: its subscription is automatic',
            );
            await offline(page, 'agent');
        });

        test("agent 1001's subscribe to /finesse/api/User/1002/Dialogs is forbidden", async (t) => {
            const page = await openPage(t);
            const jid = await online(page, transport, 'agent', '1001');

            const refused = await page.call(
                ({ options }) => window.pubsub.subscribe('agent', options),
                { options: { to: server.pubsubJID, node: dialogsNode('1002'), jid } },
            );
            assert.equal(refused.type, 'error', `subscribe: ${refused.xml}`);
            checkIQError(parse(refused.xml), { type: 'auth', condition: 'forbidden', from: server.pubsubJID });

            // An Update there reaches nobody, in particular not 1001: the
            // marker Update on 1001's own node is all it receives.
            const toOther = await publisher.publish(dialogsNode('1002'), makeUpdate({ seq: 1, label: `chromium-${transport.name}-1002`, source: dialogsNode('1002') }));
            assert.equal(toOther.deliveries, 0, "an Update on 1002's Dialogs is delivered to nobody");
            const marker = makeUpdate({ seq: 2, label: `chromium-${transport.name}-marker` });
            await publisher.publish(userNode('1001'), marker);
            const [seen] = await notifications(page, 'agent', userNode('1001'), 1);
            assert.equal(seen.text, marker);
            assert.deepEqual(await page.call(() => window.pubsub.notifiedNodes('agent')), [userNode('1001')], 'the only notification 1001 received is its own');
            await offline(page, 'agent');
        });

        test('supervisor 2001 subscribes to /finesse/api/Team/1/Users with its full JID and receives what is published there', async (t) => {
            const page = await openPage(t);
            const jid = await online(page, transport, 'supervisor', '2001');
            await online(page, transport, 'admin', ADMIN.user, ADMIN.password);
            const node = teamUsersNode(1);

            const answer = await page.call(
                ({ options }) => window.pubsub.subscribe('supervisor', options),
                { options: { to: server.pubsubJID, node, jid } },
            );
            assert.equal(answer.type, 'result', `subscribe: ${answer.xml}`);
            const subscription = readSubscription(parse(answer.xml));
            assert.ok(subscription, `the result holds <pubsub><subscription/></pubsub>: ${answer.xml}`);
            assert.equal(subscription.node, node);
            assert.equal(subscription.jid, jid, 'subscribed with the full JID');
            assert.equal(subscription.subscription, 'subscribed');
            assert.ok(subscription.subid, 'the subscription has a subid');
            assert.equal(await page.call(() => window.pubsub.pubsubRequests('supervisor')), 1, 'the page counted the subscribe it sent');

            // The administrator publishes from the page with XEP-0060, then
            // the HTTP endpoint publishes; both reach the supervisor.
            const byXMPP = makeUpdate({ seq: 1, label: `chromium-${transport.name}-team`, source: userNode('1001') });
            const published = await page.call(
                ({ options }) => window.pubsub.publish('admin', options),
                { options: { to: server.pubsubJID, node, text: byXMPP } },
            );
            assert.equal(published.type, 'result', `publish: ${published.xml}`);
            const byHTTP = makeUpdate({ seq: 2, label: `chromium-${transport.name}-team`, source: userNode('1002'), withCR: true });
            const fromHTTP = await publisher.publish(node, byHTTP);
            assert.equal(fromHTTP.deliveries, 1, "delivered to the supervisor's subscribed resource only");

            const received = await notifications(page, 'supervisor', node, 2);
            checkReceived(received, {
                node,
                to: jid,
                updates: [byXMPP, byHTTP],
                itemIds: [readPublishedItemId(parse(published.xml)), fromHTTP.itemId],
            });
            await offline(page, 'admin', 'supervisor');
        });
    });
}
