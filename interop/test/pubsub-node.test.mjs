// Finesse notifications through pubsub.<domain> to Strophe.js under Node,
// over BOSH and over WebSocket, against the built binary:
//
// - agent 1001 sends presence with priority 0, waits for presence from
//   finesse@<domain>/… as Cisco's desktop does, and, without subscribing
//   (Finesse subscribes its bare JID automatically), receives 100 Updates
//   the administrator publishes to /finesse/api/User/1001, in order, each
//   <notification>'s text exactly the Update published: once through the
//   HTTP publish endpoint, once through the administrator's own Strophe
//   connection (a standard XEP-0060 publish);
// - 1001's subscribe to /finesse/api/User/1002/Dialogs is refused with
//   forbidden, and nothing published there reaches it;
// - supervisor 2001 subscribes to /finesse/api/Team/1/Users with its full
//   JID and receives what is published there.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
    ADMIN,
    HTTPPublisher,
    PUBSUB_NS,
    PubsubClient,
    checkEnvelope,
    checkIQError,
    dialogsNode,
    isNotificationEvent,
    makeUpdate,
    publishInOrder,
    readPublishedItemId,
    readSubscription,
    requestIdOf,
    teamUsersNode,
    userNode,
} from '../lib/pubsub.mjs';
import { TRANSPORTS, startServer, stopServer } from '../lib/server.mjs';
import { killAllClients } from '../lib/strophe-process.mjs';

const UPDATES = 100;
const NOTIFICATIONS_TIMEOUT_MS = 60_000;

let server;
let publisher;

before(async () => {
    server = await startServer({ name: 'pubsub-node', rest: true });
    publisher = new HTTPPublisher(server);
});

after(async () => {
    publisher?.close();
    await killAllClients();
    await stopServer(server);
});

// Logs user in over transport and waits for Finesse's presence, as the
// desktop does (PubsubClient.online); the client is killed when test t ends.
const online = (t, transport, user, label, password) => PubsubClient.online(t, server, transport, user, label, password);

async function offline(...clients) {
    for (const client of clients) {
        assert.equal(await client.disconnect(), 'DISCONNECTED', `${client.name} disconnects cleanly`);
        await client.kill();
    }
}

// Waits for `count` notifications on node after event index `from` and
// returns them, read.
async function notificationsFor(client, node, count, from) {
    await client.waitForCount(isNotificationEvent(node), count, { from, timeoutMs: NOTIFICATIONS_TIMEOUT_MS, what: `notification on ${node}` });
    return client.notifications(from, node);
}

// How many stanzas with <pubsub xmlns='…pubsub'/> the client sent.
function sentPubsubRequests(client) {
    return client.stanzas('out').filter((el) => el.getElementsByTagNameNS(PUBSUB_NS, 'pubsub').length > 0).length;
}

// The checks every test makes of what arrived on node: exactly the Updates
// published, each in Finesse's envelope addressed to the subscription's JID
// (to), in publish order, each text exactly the Update, each item id the
// one its publisher was given.
function checkReceived(notifications, { node, to, updates, itemIds }) {
    assert.equal(notifications.length, updates.length, `exactly ${updates.length} notifications on ${node}`);
    const read = notifications.map((n, i) => checkEnvelope(n, { domain: server.domain, node, to, what: `notification ${i + 1}` }));
    assert.deepEqual(
        read.map((r) => requestIdOf(r.text)),
        updates.map(requestIdOf),
        'the Updates arrive in the order they were published',
    );
    for (let i = 0; i < updates.length; i++) {
        assert.equal(read[i].text, updates[i], `notification ${i + 1}: the text of <notification> is exactly the Update published`);
    }
    assert.deepEqual(read.map((r) => r.itemId), itemIds, 'each item id is the one the publisher was told');
    assert.equal(new Set(itemIds).size, itemIds.length, 'the item ids are all different');
}

for (const transport of TRANSPORTS) {
    describe(`pubsub with Strophe.js under Node over ${transport.name}`, () => {
        test(`agent 1001, subscribed automatically, receives ${UPDATES} Updates from the HTTP publish endpoint in order, byte for byte`, async (t) => {
            const agent = await online(t, transport, '1001', 'agent');
            const node = userNode('1001');
            const bareJID = `1001@${server.domain}`;
            const from = agent.events.length;

            const { updates, itemIds } = await publishInOrder(UPDATES, async (seq) => {
                const update = makeUpdate({ seq, label: `node-${transport.name}-http`, withCR: seq % 10 === 3 });
                const published = await publisher.publish(node, update);
                assert.equal(published.deliveries, 1, `Update ${seq}: delivered to 1001's one available session`);
                return { update, itemId: published.itemId };
            });

            const notifications = await notificationsFor(agent, node, UPDATES, from);
            checkReceived(notifications, { node, to: bareJID, updates, itemIds });
            assert.equal(sentPubsubRequests(agent), 0, 'the agent never sent a pubsub request: its subscription is automatic');
            await offline(agent);
        });

        test(`agent 1001 receives ${UPDATES} Updates the administrator publishes with XEP-0060 over ${transport.name}, in order`, async (t) => {
            const agent = await online(t, transport, '1001', 'agent');
            const admin = await online(t, transport, ADMIN.user, 'admin', ADMIN.password);
            const node = userNode('1001');
            const bareJID = `1001@${server.domain}`;
            const from = agent.events.length;

            const { updates, itemIds } = await publishInOrder(UPDATES, async (seq) => {
                // No CR: Strophe sends it unescaped, and XML parsing turns
                // CR LF into LF before the server sees it.
                const update = makeUpdate({ seq, label: `node-${transport.name}-xmpp` });
                const answer = await admin.publishNotification({ to: server.pubsubJID, node, text: update });
                assert.equal(answer.getAttribute('type'), 'result', `publish ${seq}: ${answer.toString()}`);
                assert.equal(answer.getAttribute('from'), server.pubsubJID);
                const itemId = readPublishedItemId(answer);
                assert.ok(itemId, `publish ${seq}: the result names the item (<pubsub><publish><item id/>): ${answer.toString()}`);
                return { update, itemId };
            });

            const notifications = await notificationsFor(agent, node, UPDATES, from);
            checkReceived(notifications, { node, to: bareJID, updates, itemIds });
            await offline(admin, agent);
        });

        test("agent 1001's subscribe to /finesse/api/User/1002/Dialogs is forbidden, and nothing of 1002's reaches it", async (t) => {
            const agent = await online(t, transport, '1001', 'agent');
            const from = agent.events.length;

            const refused = await agent.subscribe({ to: server.pubsubJID, node: dialogsNode('1002'), jid: agent.jid });
            checkIQError(refused, { type: 'auth', condition: 'forbidden', from: server.pubsubJID });

            // The same request for one of its own nodes succeeds, so the
            // refusal is about 1002's node, not the request.
            const own = await agent.subscribe({ to: server.pubsubJID, node: `${userNode('1001')}/Queues`, jid: agent.jid });
            assert.equal(own.getAttribute('type'), 'result', `subscribe to its own Queues node: ${own.toString()}`);
            assert.equal(readSubscription(own)?.subscription, 'subscribed');

            // 1002 is not logged in, so an Update on its Dialogs node has
            // nobody to go to; then one for 1001 marks the end.
            const forOther = makeUpdate({ seq: 1, label: `node-${transport.name}-1002`, source: dialogsNode('1002') });
            const toOther = await publisher.publish(dialogsNode('1002'), forOther);
            assert.equal(toOther.deliveries, 0, "an Update on 1002's Dialogs is delivered to nobody");
            const marker = makeUpdate({ seq: 2, label: `node-${transport.name}-marker` });
            await publisher.publish(userNode('1001'), marker);
            const [seen] = await notificationsFor(agent, userNode('1001'), 1, from);
            assert.equal(seen.items[0].payloads[0].text, marker);
            assert.deepEqual(
                agent.notifications(from).map((n) => n.node),
                [userNode('1001')],
                'the only notification 1001 received is its own',
            );
            await offline(agent);
        });

        test('supervisor 2001 subscribes to /finesse/api/Team/1/Users with its full JID and receives what is published there', async (t) => {
            const supervisor = await online(t, transport, '2001', 'supervisor');
            const admin = await online(t, transport, ADMIN.user, 'admin', ADMIN.password);
            const node = teamUsersNode(1);
            const from = supervisor.events.length;

            const answer = await supervisor.subscribe({ to: server.pubsubJID, node, jid: supervisor.jid });
            assert.equal(answer.getAttribute('type'), 'result', `subscribe: ${answer.toString()}`);
            assert.equal(answer.getAttribute('from'), server.pubsubJID);
            const subscription = readSubscription(answer);
            assert.ok(subscription, `the result holds <pubsub><subscription/></pubsub>: ${answer.toString()}`);
            assert.equal(subscription.node, node);
            assert.equal(subscription.jid, supervisor.jid, 'subscribed with the full JID');
            assert.equal(subscription.subscription, 'subscribed');
            assert.ok(subscription.subid, 'the subscription has a subid');
            assert.equal(sentPubsubRequests(supervisor), 1, 'the subscribe is the one pubsub request the supervisor sent');

            // One Update through each publish path; the full-JID
            // subscription reaches this resource only.
            const byXMPP = makeUpdate({ seq: 1, label: `node-${transport.name}-team`, source: userNode('1001') });
            const xmppAnswer = await admin.publishNotification({ to: server.pubsubJID, node, text: byXMPP });
            assert.equal(xmppAnswer.getAttribute('type'), 'result', `publish: ${xmppAnswer.toString()}`);
            const byHTTP = makeUpdate({ seq: 2, label: `node-${transport.name}-team`, source: userNode('1002'), withCR: true });
            const published = await publisher.publish(node, byHTTP);
            assert.equal(published.deliveries, 1, "delivered to the supervisor's subscribed resource only");

            const notifications = await notificationsFor(supervisor, node, 2, from);
            checkReceived(notifications, {
                node,
                to: supervisor.jid,
                updates: [byXMPP, byHTTP],
                itemIds: [readPublishedItemId(xmppAnswer), published.itemId],
            });
            await offline(admin, supervisor);
        });
    });
}
