// Task routing to Strophe.js under Node, against the built binary: agent
// 1080 is online over WebSocket, signs in to the task MRD (5001) with
// maxDialogLimit 3 and goes READY over REST; a multichannel application
// submits a task to the CCP Task API; the agent's session receives the
// OFFERED Dialog on /finesse/api/User/1080/Dialogs/Media, then ACCEPTED,
// ACTIVE and CLOSED as the agent acts over REST (PUT /finesse/api/Dialog/<id>),
// and the Media changes on /finesse/api/User/1080/Media; the administrator,
// over BOSH and subscribed to ccp.campaign.updates.Cisco_Default_Task_Campaign,
// receives the contact's SocialContact unread, queued, reserved, handled.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { PubsubClient, checkEnvelope, isNotificationEvent } from '../lib/pubsub.mjs';
import { RESTClient } from '../lib/rest.mjs';
import { TRANSPORTS, startServer, stopServer } from '../lib/server.mjs';
import { killAllClients } from '../lib/strophe-process.mjs';
import { TASK, TaskAPI, dialogsMediaNode, mediaNode, readDialogUpdate, readMediaUpdate, readSocialContact, taskBody } from '../lib/task.mjs';

const BOSH = TRANSPORTS.find((tr) => tr.name === 'BOSH');
const WEBSOCKET = TRANSPORTS.find((tr) => tr.name === 'WebSocket');

let server;
let rest;
let taskAPI;

before(async () => {
    server = await startServer({ name: 'task-node', rest: true });
    rest = new RESTClient(server, { user: TASK.agent });
    taskAPI = new TaskAPI(server);
});

after(async () => {
    rest?.close();
    taskAPI?.close();
    await killAllClients();
    await stopServer(server);
});

// Logs user in over transport and waits for Finesse's presence, as the
// desktop does (PubsubClient.online); the client is killed when test t ends.
const online = (t, transport, user, label, password) => PubsubClient.online(t, server, transport, user, label, password);

// The texts of the notifications on node that client received since event
// index from, each checked for Finesse's envelope addressed to `to`.
function textsOn(client, node, to, from) {
    return client.notifications(from, node).map((n, i) => checkEnvelope(n, { domain: server.domain, node, to, what: `${client.name}: notification ${i + 1} on ${node}` }).text);
}

const textOf = (e) => e.notification.items[0]?.payloads[0]?.text ?? '';

// Matches a notification on node whose Update carries requestId.
const carrying = (node, read, requestId) => (e) => isNotificationEvent(node)(e) && read(textOf(e))?.requestId === requestId;

const REQUEST = randomBytes(3).toString('hex');

test('agent 1080 (WebSocket) is offered a task and accepts, starts and closes it over REST; the administrator (BOSH) follows the contact on the campaign node', async (t) => {
    const agentId = TASK.agent;
    const agentBare = `${agentId}@${server.domain}`;
    const adminBare = `admin@${server.domain}`;
    const dialogsNode = dialogsMediaNode(agentId);
    const mediaURI = `${mediaNode(agentId)}/${TASK.mrd}`;

    const agent = await online(t, WEBSOCKET, agentId, 'agent');
    const admin = await online(t, BOSH, 'admin', 'ccp-monitor');
    const subscribed = await admin.subscribe({ to: server.pubsubJID, node: TASK.campaignNode, jid: adminBare });
    assert.equal(subscribed.getAttribute('type'), 'result', `subscribe to ${TASK.campaignNode}: ${subscribed.toString()}`);
    const agentFrom = agent.events.length;
    const adminFrom = admin.events.length;

    // Sign in to the task MRD and go READY there.
    const signIn = [
        { body: `<Media><state>LOGIN</state><maxDialogLimit>3</maxDialogLimit></Media>`, requestId: `media-login-${REQUEST}` },
        { body: `<Media><state>READY</state></Media>`, requestId: `media-ready-${REQUEST}` },
    ];
    for (const step of signIn) {
        const res = await rest.request('PUT', mediaURI, { body: step.body, requestId: step.requestId });
        assert.equal(res.status, 202, `PUT ${mediaURI} ${step.body}: status ${res.status}, body ${res.body}`);
        assert.equal(res.headers.requestid, step.requestId, 'the requestId header is echoed');
        await agent.waitFor(carrying(mediaNode(agentId), readMediaUpdate, step.requestId), { from: agentFrom, what: `the Media Update with requestId ${step.requestId}` });
    }

    // The application submits a task.
    const ecc = 'Zoë & <Co>';
    const submitted = await taskAPI.submit(
        taskBody({ name: `interop-${REQUEST}`, variables: [['cv_1', 'order-42'], ['user_customerName', ecc]] }),
    );
    assert.equal(submitted.status, 201, `POST ${TASK.feedPath}: status ${submitted.status}, body ${submitted.body}`);
    assert.ok(submitted.contactId, `Location ${submitted.location} ends with the contact id (32 upper-case hex digits)`);
    const contactId = submitted.contactId;

    const offer = await agent.waitFor((e) => isNotificationEvent(dialogsNode)(e) && readDialogUpdate(textOf(e))?.event === 'POST', {
        from: agentFrom,
        what: `the OFFERED Dialog on ${dialogsNode}`,
    });
    const offered = readDialogUpdate(textOf(offer)).dialog;
    assert.ok(offered, `the POST carries one <Dialog>: ${textOf(offer)}`);
    const dialogId = offered.id;
    const dialogURI = `/finesse/api/Dialog/${dialogId}`;

    // The agent acts on it over REST, each step awaited on the wire.
    const actions = [
        { action: 'ACCEPT', requestId: `accept-${REQUEST}`, event: 'PUT' },
        { action: 'START', requestId: `start-${REQUEST}`, event: 'PUT' },
        { action: 'CLOSE', requestId: `close-${REQUEST}`, event: 'DELETE' },
    ];
    for (const step of actions) {
        const res = await rest.request('PUT', dialogURI, {
            body: `<Dialog><requestedAction>${step.action}</requestedAction><targetMediaAddress>${agentId}</targetMediaAddress></Dialog>`,
            requestId: step.requestId,
        });
        assert.equal(res.status, 202, `PUT ${dialogURI} ${step.action}: status ${res.status}, body ${res.body}`);
        assert.equal(res.headers.requestid, step.requestId, `${step.action}: the requestId header is echoed`);
        await agent.waitFor(carrying(dialogsNode, readDialogUpdate, step.requestId), { from: agentFrom, what: `the ${step.action} Dialog Update` });
    }
    await admin.waitForCount(isNotificationEvent(TASK.campaignNode), 4, { from: adminFrom, what: `SocialContacts on ${TASK.campaignNode}` });
    // A ping round trip on each session: whatever was published has arrived.
    await agent.ping(server.domain);
    await admin.ping(server.domain);

    // The dialog as the agent's desktop saw it, in order.
    const dialogUpdates = textsOn(agent, dialogsNode, agentBare, agentFrom).map((text) => {
        const u = readDialogUpdate(text);
        assert.ok(u && u.dialog, `a Dialog Update with one dialog: ${text}`);
        return u;
    });
    const expected = [
        { event: 'POST', requestId: '', source: `${mediaNode(agentId)}/${TASK.mrd}/Dialogs`, wrapper: 'dialogs', state: 'OFFERED', actions: ['ACCEPT'] },
        { event: 'PUT', requestId: `accept-${REQUEST}`, source: dialogURI, wrapper: null, state: 'ACCEPTED', actions: ['UPDATE_CALL_DATA', 'TRANSFER', 'START', 'CLOSE'] },
        { event: 'PUT', requestId: `start-${REQUEST}`, source: dialogURI, wrapper: null, state: 'ACTIVE', actions: ['PAUSE', 'UPDATE_CALL_DATA', 'WRAP_UP', 'TRANSFER', 'CLOSE'] },
        { event: 'DELETE', requestId: `close-${REQUEST}`, source: `${mediaNode(agentId)}/${TASK.mrd}/Dialogs`, wrapper: 'dialogs', state: 'CLOSED', actions: [] },
    ];
    assert.deepEqual(
        dialogUpdates.map((u) => `${u.event} ${u.dialog.state}`),
        expected.map((w) => `${w.event} ${w.state}`),
        `the Updates on ${dialogsNode}`,
    );
    dialogUpdates.forEach((u, i) => {
        const w = expected[i];
        const what = `${w.state} Update`;
        const dlg = u.dialog;
        assert.equal(u.requestId, w.requestId, `${what}: requestId`);
        assert.equal(u.source, w.source, `${what}: source`);
        assert.equal(u.wrapper, w.wrapper, `${what}: <dialogs><Dialog> for POST and DELETE, <dialog> for PUT`);
        assert.equal(dlg.id, dialogId, `${what}: the same dialog id`);
        assert.equal(dlg.id, `${dlg.taskId.day}_${dlg.taskId.callId}_${dlg.taskId.seq}`, `${what}: the id is routerCallKeyDay_routerCallKeyCallID_routerCallKeySequenceNum`);
        assert.equal(dlg.taskId.seq, '1', `${what}: sequence number 1`);
        assert.deepEqual(
            dlg.mediaProperties,
            {
                mediaId: TASK.mrd,
                dialedNumber: TASK.scriptSelector,
                queueNumber: TASK.queueNumber,
                queueName: TASK.scriptSelector,
                callKeyCallId: dlg.taskId.callId,
                callKeyPrefix: dlg.taskId.day,
                callKeySequenceNum: dlg.taskId.seq,
            },
            `${what}: mediaProperties`,
        );
        assert.deepEqual(
            dlg.callVariables,
            [
                { name: 'callVariable1', value: 'order-42' },
                { name: 'user.customerName', value: ecc },
            ],
            `${what}: cv_1 is callVariable1 and user_customerName is user.customerName`,
        );
        assert.equal(dlg.mediaType, TASK.mrdName, `${what}: mediaType`);
        assert.equal(dlg.participants, 1, `${what}: one participant`);
        assert.equal(dlg.participant.mediaAddress, agentId, `${what}: the participant is the agent`);
        assert.equal(dlg.participant.state, w.state, `${what}: the participant's state`);
        assert.deepEqual(dlg.participant.actions, w.actions, `${what}: the participant's actions`);
        assert.equal(dlg.participant.startTime, dialogUpdates[0].dialog.participant.startTime, `${what}: the offer's startTime`);
        assert.equal(dlg.uri, dialogURI, `${what}: uri`);
        assert.equal(dlg.dispositionCode, w.state === 'CLOSED' ? 'CD_NORMAL_END_DIALOG' : null, `${what}: dispositionCode`);
    });

    // The MRD's state, as the agent's desktop saw it.
    const mediaUpdates = textsOn(agent, mediaNode(agentId), agentBare, agentFrom).map((text) => readMediaUpdate(text));
    assert.deepEqual(
        mediaUpdates.map((u) => [u?.event, u?.source, u?.media?.id, u?.media?.state, u?.requestId]),
        [
            ['PUT', mediaURI, TASK.mrd, 'NOT_READY', `media-login-${REQUEST}`],
            ['PUT', mediaURI, TASK.mrd, 'READY', `media-ready-${REQUEST}`],
            ['PUT', mediaURI, TASK.mrd, 'RESERVED', ''],
            ['PUT', mediaURI, TASK.mrd, 'ACTIVE', `start-${REQUEST}`],
            ['PUT', mediaURI, TASK.mrd, 'READY', `close-${REQUEST}`],
        ],
        `the Updates on ${mediaNode(agentId)}`,
    );
    assert.deepEqual(
        agent.notifications(agentFrom).map((n) => n.node).filter((n) => n !== dialogsNode && n !== mediaNode(agentId)),
        [],
        'the agent receives nothing on other nodes',
    );

    // The contact as the administrator saw it.
    const contacts = textsOn(admin, TASK.campaignNode, adminBare, adminFrom).map((text) => {
        const sc = readSocialContact(text);
        assert.ok(sc, `the notification carries a <SocialContact>: ${text}`);
        return sc;
    });
    assert.deepEqual(
        contacts.map((sc) => [sc.fields.id, sc.fields.status, sc.fields.statusReason, sc.fields.statusUserId]),
        [
            [contactId, 'unread', 'unknown', ''],
            [contactId, 'queued', 'externally_routed', 'system'],
            [contactId, 'reserved', 'externally_routed', agentId],
            [contactId, 'handled', 'externally_handled', agentId],
        ],
        `the SocialContacts on ${TASK.campaignNode}: id, status, statusReason, statusUserId`,
    );
    for (const sc of contacts) {
        assert.equal(sc.fields.campaignPublicId, TASK.campaign, 'campaignPublicId');
        assert.equal(sc.fields.sourceType, 'task', 'sourceType');
        assert.equal(sc.fields.author, `interop-${REQUEST}`, 'author is the task name');
        assert.equal(sc.extensionFields.scriptSelector, TASK.scriptSelector, 'extension field scriptSelector');
        assert.equal(sc.extensionFields.cv_1, 'order-42', 'extension field cv_1');
        assert.equal(sc.extensionFields.user_customerName, ecc, 'extension field user_customerName');
    }
    for (const sc of contacts.slice(2)) {
        assert.equal(sc.extensionFields.taskID, dialogId, `${sc.fields.status}: extension field taskID is the dialog id`);
        assert.equal(sc.extensionFields.mrdID, TASK.mrd, `${sc.fields.status}: extension field mrdID`);
    }

    // The application's poll agrees.
    const polled = await taskAPI.poll(contactId);
    assert.equal(polled.status, 200, `poll: ${polled.body}`);
    assert.equal(polled.task?.status, 'HANDLED', `poll: ${polled.body}`);
    assert.equal(polled.task?.taskID, dialogId, `poll: taskID ${polled.body}`);
    assert.equal(polled.task?.agentID, agentId, `poll: agentID ${polled.body}`);
});
