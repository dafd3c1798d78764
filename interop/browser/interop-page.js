// Runs in headless Chromium, on an origin other than the server's, so that
// every BOSH request from Strophe.js is a real cross-origin request with its
// CORS preflight. The test calls window.interop.login() and .logout().
'use strict';

(function () {
    const PING_NS = 'urn:xmpp:ping'; // XEP-0199
    const statusNames = {};
    for (const [name, value] of Object.entries(Strophe.Status)) {
        statusNames[value] = name;
    }

    let conn = null;
    const statuses = [];
    const listeners = [];

    function log(line) {
        document.getElementById('log').textContent += line + '\n';
    }

    function onStatus(value, condition) {
        const name = statusNames[value] || String(value);
        statuses.push(name);
        log('status ' + name + (condition ? ' (' + condition + ')' : ''));
        for (const listener of listeners.slice()) {
            listener(name, condition);
        }
    }

    function untilStatus(want, fail) {
        return new Promise((resolve, reject) => {
            const listener = (name, condition) => {
                if (want.includes(name)) {
                    listeners.splice(listeners.indexOf(listener), 1);
                    resolve(name);
                } else if (fail.includes(name)) {
                    listeners.splice(listeners.indexOf(listener), 1);
                    reject(new Error('Strophe status ' + name + (condition ? ' (' + condition + ')' : '')));
                }
            };
            listeners.push(listener);
        });
    }

    function pingDomain(domain, timeoutMs) {
        return new Promise((resolve, reject) => {
            conn.sendIQ(
                $iq({ type: 'get', to: domain }).c('ping', { xmlns: PING_NS }),
                (result) => resolve(result),
                (error) => reject(new Error(error ? 'ping failed: ' + new XMLSerializer().serializeToString(error) : 'ping timed out')),
                timeoutMs,
            );
        });
    }

    window.interop = {
        statuses,

        // Logs in over BOSH, sends presence with priority 0 and pings the
        // domain; resolves with what a test needs to check.
        async login({ service, jid, password, domain }) {
            conn = new Strophe.Connection(service);
            const sentAuth = [];
            conn.xmlOutput = (elem) => {
                const stanzas = elem.localName === 'body' ? Array.from(elem.children) : [elem];
                for (const stanza of stanzas) {
                    if (stanza.localName === 'auth') {
                        sentAuth.push(stanza.getAttribute('mechanism'));
                    }
                }
            };
            const connected = untilStatus(['CONNECTED'], ['CONNFAIL', 'AUTHFAIL', 'DISCONNECTED', 'CONNTIMEOUT', 'ERROR']);
            conn.connect(jid, password, onStatus);
            await connected;
            conn.send($pres().c('priority').t('0'));
            const pong = await pingDomain(domain, 10000);
            log('pinged ' + domain + ': ' + pong.getAttribute('type'));
            return {
                jid: conn.jid,
                origin: window.location.origin,
                authMechanisms: sentAuth,
                pingType: pong.getAttribute('type'),
                pingFrom: pong.getAttribute('from'),
                statuses: statuses.slice(),
            };
        },

        async logout() {
            const done = untilStatus(['DISCONNECTED'], []);
            conn.disconnect('interop test done');
            return done;
        },
    };
})();
