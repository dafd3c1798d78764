// The REST API driving notifications to Strophe.js under Node, against the
// built binary: agent 1001 is online over WebSocket and supervisor 2001
// over BOSH (subscribed to /finesse/api/Team/1/Users, as a supervisor
// desktop does); the agent logs in and goes READY over REST, each request
// with its own requestId; each answers 202 with the requestId echoed, and
// each causes exactly one Update carrying it on the agent's node and one
// on the team's node.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { PubsubClient, checkEnvelope, isNotificationEvent, teamUsersNode, userNode } from '../lib/pubsub.mjs';
import { RESTClient, readUpdate } from '../lib/rest.mjs';
import { TRANSPORTS, startServer, stopServer } from '../lib/server.mjs';
import { killAllClients } from '../lib/strophe-process.mjs';

const BOSH = TRANSPORTS.find((tr) => tr.name === 'BOSH');
const WEBSOCKET = TRANSPORTS.find((tr) => tr.name === 'WebSocket');

let server;
let rest;

before(async () => {
    server = await startServer({ name: 'rest-node', rest: true });
    rest = new RESTClient(server, { user: '1001' });
});

after(async () => {
    rest?.close();
    await killAllClients();
    await stopServer(server);
});

// Logs user in over transport and waits for Finesse's presence, as the
// desktop does (PubsubClient.online); the client is killed when test t ends.
const online = (t, transport, user, label, password) => PubsubClient.online(t, server, transport, user, label, password);

// The Updates on node that client received since event index from, each
// checked for Finesse's envelope addressed to `to`, and read.
function updatesOn(client, node, to, from) {
    return client.notifications(from, node).map((n, i) => {
        const { text } = checkEnvelope(n, { domain: server.domain, node, to, what: `${client.name}: notification ${i + 1} on ${node}` });
        const update = readUpdate(text);
        assert.ok(update, `${client.name}: the notification carries an <Update>: ${text}`);
        return update;
    });
}

const carries = (node, requestId) => (e) =>
    isNotificationEvent(node)(e) && readUpdate(e.notification.items[0]?.payloads[0]?.text ?? '')?.requestId === requestId;

test('agent 1001 (WebSocket) logs in and goes READY over REST; it and supervisor 2001 (BOSH) receive the Updates carrying each requestId', async (t) => {
    const agent = await online(t, WEBSOCKET, '1001', 'agent');
    const supervisor = await online(t, BOSH, '2001', 'supervisor');
    const subscribed = await supervisor.subscribe({ to: server.pubsubJID, node: teamUsersNode(1), jid: supervisor.jid });
    assert.equal(subscribed.getAttribute('type'), 'result', `subscribe to the team: ${subscribed.toString()}`);

    const agentNode = userNode('1001');
    const teamNode = teamUsersNode(1);
    const agentFrom = agent.events.length;
    const supervisorFrom = supervisor.events.length;
    const steps = [
        { inner: '<state>LOGIN</state><extension>3001</extension>', requestId: `login-${randomBytes(4).toString('hex')}`, state: 'NOT_READY' },
        { inner: '<state>READY</state>', requestId: `ready-${randomBytes(4).toString('hex')}`, state: 'READY' },
    ];
    for (const step of steps) {
        const res = await rest.putUser('1001', step.inner, step.requestId);
        assert.equal(res.status, 202, `PUT ${step.inner}: status ${res.status}, body ${res.body}`);
        assert.equal(res.headers.requestid, step.requestId, `PUT ${step.inner}: the requestId header is echoed`);
        assert.equal(res.body, '', `PUT ${step.inner}: 202 with no body`);
        await agent.waitFor(carries(agentNode, step.requestId), { from: agentFrom, what: `the agent's Update with requestId ${step.requestId}` });
        await supervisor.waitFor(carries(teamNode, step.requestId), { from: supervisorFrom, what: `the team's Update with requestId ${step.requestId}` });
    }
    // A ping round trip on each session: whatever the requests published
    // has arrived by then.
    await agent.ping(server.domain);
    await supervisor.ping(server.domain);

    for (const [who, updates] of [
        ["the agent's node", updatesOn(agent, agentNode, `1001@${server.domain}`, agentFrom)],
        ["the team's node", updatesOn(supervisor, teamNode, supervisor.jid, supervisorFrom)],
    ]) {
        for (const step of steps) {
            const carrying = updates.filter((u) => u.requestId === step.requestId);
            assert.equal(carrying.length, 1, `${who}: exactly one Update carries requestId ${step.requestId}`);
            const [u] = carrying;
            assert.equal(u.event, 'PUT', `${who}: a PUT Update`);
            assert.equal(u.source, agentNode, `${who}: source is the agent's URI`);
            assert.deepEqual(u.user, { loginId: '1001', state: step.state }, `${who}: the <user> after ${step.inner}`);
        }
    }
    assert.deepEqual(agent.notifications(agentFrom).map((n) => n.node).filter((n) => n !== agentNode), [], 'the agent receives nothing on other nodes');

    const got = await rest.request('GET', '/finesse/api/User/1001');
    assert.equal(got.status, 200);
    assert.match(got.body, /<state>READY<\/state>/, 'GET shows READY');
});
