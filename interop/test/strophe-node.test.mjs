// Strophe.js (from npm) under Node against the built binary, over BOSH
// (https://localhost:7443/http-bind) and WebSocket (wss://localhost:7443/ws),
// with the server's self-signed certificate trusted for real through
// NODE_EXTRA_CA_CERTS. Every case runs over both transports.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { TRANSPORTS, startServer, stopServer } from '../lib/server.mjs';
import {
    StropheProcess,
    childText,
    hasChild,
    isPresence,
    isServerPing,
    killAllClients,
    received,
    sent,
    statusIs,
} from '../lib/strophe-process.mjs';

const SASL_NS = 'urn:ietf:params:xml:ns:xmpp-sasl';
// Short by default so the suite runs in seconds; INTEROP_PING_INTERVAL=10s
// and INTEROP_PING_RETRIES=2 run it at Finesse's own values.
const PING_INTERVAL = process.env.INTEROP_PING_INTERVAL || '1s';
const PING_RETRIES = Number(process.env.INTEROP_PING_RETRIES || 2);
// How many server pings a healthy client must see and survive. With 2
// retries a silent client is dead after 3 intervals, so living through 4
// pings proves the answers are counted.
const PINGS_TO_SURVIVE = 4;

let server;

before(async () => {
    server = await startServer({ name: 'strophe-node', pingInterval: PING_INTERVAL, pingRetries: PING_RETRIES });
});

after(async () => {
    await killAllClients();
    await stopServer(server);
});

function resource(label) {
    return `${label}-${randomBytes(4).toString('hex')}`;
}

// Starts a client process, logs it in as `user` with a fresh resource and
// sends initial presence with `priority`.
async function online(transport, label, { user = '1001', answerPings = true, priority = 0 } = {}) {
    const client = await StropheProcess.start(`${transport.name} ${label}`, { caFile: server.caFile });
    const wanted = `${user}@${server.domain}/${resource(label)}`;
    const jid = await client.connect({ service: transport.service(server), jid: wanted, answerPings });
    assert.equal(jid, wanted, 'bound JID is the one the client asked for');
    await client.presence(priority);
    return client;
}

const unavailableFrom = (jid) => received((el) => isPresence(el, jid, 'unavailable'));
const availableFrom = (jid) => received((el) => isPresence(el, jid, ''));

// Waits for `count` server pings to `client` and returns them with the
// client's reply to each (matched by id).
async function serverPingsWithReplies(client, count, from) {
    const budget = server.pingIntervalMs * (count + 2) + 10_000;
    const pings = await client.waitForCount(received(isServerPing), count, { from, timeoutMs: budget, what: 'server ping' });
    const replies = [];
    for (const ping of pings) {
        const id = ping.el.getAttribute('id');
        assert.ok(id, 'a server ping carries an id');
        assert.equal(ping.el.getAttribute('to'), client.jid, 'a server ping is addressed to the full JID');
        const reply = await client.waitFor(sent((el) => el.localName === 'iq' && el.getAttribute('id') === id), {
            from,
            timeoutMs: 5_000,
            what: `the reply to server ping ${id}`,
        });
        replies.push(reply.el);
    }
    return { pings, replies };
}

for (const transport of TRANSPORTS) {
    describe(`Strophe.js under Node over ${transport.name}`, () => {
        test('logs in as 1001 with SASL PLAIN, sends presence, pings the domain, answers server pings, disconnects cleanly', async () => {
            const observer = await online(transport, 'observer');
            const client = await StropheProcess.start(`${transport.name} client`, { caFile: server.caFile });
            const wanted = `1001@${server.domain}/${resource('client')}`;
            const start = client.events.length;
            assert.equal(await client.connect({ service: transport.service(server), jid: wanted }), wanted);
            assert.equal(client.statuses(start).at(-1), 'CONNECTED');
            const auth = client.stanzas('out', start).find((el) => el.localName === 'auth');
            assert.equal(auth?.getAttribute('mechanism'), 'PLAIN', 'Strophe authenticated with SASL PLAIN');
            assert.ok(
                client.stanzas('in', start).some((el) => el.localName === 'success' && el.namespaceURI === SASL_NS),
                'the server accepted the SASL PLAIN login',
            );

            // Initial presence with priority 0 reaches the user's other resource.
            const beforePresence = observer.events.length;
            await client.presence(0);
            const seen = await observer.waitFor(availableFrom(client.jid), {
                from: beforePresence,
                what: `available presence from ${client.jid}`,
            });
            assert.equal(childText(seen.el, 'priority'), '0', 'the broadcast presence keeps priority 0');

            // XEP-0199 ping to the domain.
            const pong = await client.ping(server.domain);
            assert.equal(pong.getAttribute('type'), 'result');
            assert.equal(pong.getAttribute('from'), server.domain);

            // The server pings a silent client every interval; our handler
            // answers, and the session outlives more pings than the retries.
            const beforePings = client.events.length;
            const { replies } = await serverPingsWithReplies(client, PINGS_TO_SURVIVE, beforePings);
            for (const reply of replies) {
                assert.equal(reply.getAttribute('type'), 'result', 'the ping handler answers with a result');
            }
            assert.equal(await client.status(), 'CONNECTED', 'still connected after several ping intervals');
            assert.ok(!client.statuses(beforePings).includes('DISCONNECTED'));
            assert.ok(
                !observer.events.some(unavailableFrom(client.jid)),
                'the observer never saw the client go unavailable while it answered pings',
            );
            const pongAgain = await client.ping(server.domain);
            assert.equal(pongAgain.getAttribute('type'), 'result', 'the session still works after the pings');

            // A clean disconnect: Strophe reaches DISCONNECTED and the server
            // ends the session, which the other resource sees.
            const beforeDisconnect = observer.events.length;
            assert.equal(await client.disconnect(), 'DISCONNECTED');
            await observer.waitFor(unavailableFrom(client.jid), {
                from: beforeDisconnect,
                timeoutMs: 10_000,
                what: `unavailable presence from ${client.jid} after its disconnect`,
            });

            assert.equal(await observer.disconnect(), 'DISCONNECTED');
            await client.kill();
            await observer.kill();
        });

        test('a client that stops answering (SIGSTOP) is dropped and goes unavailable in time', async (t) => {
            const observer = await online(transport, 'observer');
            const beforeSubject = observer.events.length;
            const subject = await online(transport, 'stopped');
            await observer.waitFor(availableFrom(subject.jid), {
                from: beforeSubject,
                what: `available presence from ${subject.jid}`,
            });

            // Freeze the client: its sockets stay open, nothing is answered.
            const bound = server.pingIntervalMs * (server.pingRetries + 1) + 5_000;
            const beforeStop = observer.events.length;
            const stoppedAt = Date.now();
            subject.signal('SIGSTOP');
            try {
                const gone = await observer.waitFor(unavailableFrom(subject.jid), {
                    from: beforeStop,
                    timeoutMs: bound + 2_000,
                    what: `unavailable presence from the stopped ${subject.jid}`,
                });
                const elapsed = gone.at - stoppedAt;
                t.diagnostic(`unavailable presence ${elapsed} ms after SIGSTOP (bound ${bound} ms)`);
                assert.ok(
                    elapsed <= bound,
                    `unavailable after ${elapsed} ms; must be within ping-interval × (retries + 1) + 5 s = ${bound} ms`,
                );
                // The server cannot know before a ping has gone unanswered for
                // a full interval; an earlier drop would have another cause.
                assert.ok(elapsed >= server.pingIntervalMs, `unavailable after only ${elapsed} ms`);
            } finally {
                await subject.kill();
            }

            // The observer's own session is unharmed.
            const pong = await observer.ping(server.domain);
            assert.equal(pong.getAttribute('type'), 'result');
            assert.equal(await observer.disconnect(), 'DISCONNECTED');
            await observer.kill();
        });

        test("Strophe's default answer to server pings (an error without 'to', no ping handler) keeps the session", async () => {
            const observer = await online(transport, 'observer');
            const beforeClient = observer.events.length;
            const client = await online(transport, 'default', { answerPings: false });
            await observer.waitFor(availableFrom(client.jid), {
                from: beforeClient,
                what: `available presence from ${client.jid}`,
            });

            const beforePings = client.events.length;
            const { replies } = await serverPingsWithReplies(client, PINGS_TO_SURVIVE, beforePings);
            for (const reply of replies) {
                assert.equal(reply.getAttribute('type'), 'error', "Strophe's fallback answers with an error");
                assert.equal(reply.getAttribute('to'), null, "Strophe's fallback error carries no 'to'");
                const error = [...reply.getElementsByTagName('error')][0];
                assert.ok(
                    error && hasChild(error, 'service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'),
                    'the fallback error is service-unavailable',
                );
            }
            assert.equal(await client.status(), 'CONNECTED', 'still connected after several ping intervals');
            assert.ok(!client.events.slice(beforePings).some(statusIs('DISCONNECTED')));
            assert.ok(!observer.events.some(unavailableFrom(client.jid)), 'the observer never saw the client go unavailable');
            const pong = await client.ping(server.domain);
            assert.equal(pong.getAttribute('type'), 'result');

            assert.equal(await client.disconnect(), 'DISCONNECTED');
            assert.equal(await observer.disconnect(), 'DISCONNECTED');
            await client.kill();
            await observer.kill();
        });
    });
}
