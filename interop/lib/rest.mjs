// The Finesse REST API as a desktop calls it: HTTP Basic, XML bodies, the
// requestId header, over the server's REST listener (HTTPS, trusting the
// server's self-signed certificate), and reading the Updates of the
// notifications it causes.

import https from 'node:https';

import { DOMParser } from '@xmldom/xmldom';

/**
 * Sends one HTTPS request (data: a Buffer, or null for none) and resolves
 * with {status, headers, body}; it fails after timeoutMs.
 */
export function httpsRequest(url, { method, agent, headers, data, timeoutMs }) {
    return new Promise((resolve, reject) => {
        const req = https.request(url, { method, agent, headers }, (res) => {
            const chunks = [];
            res.on('data', (chunk) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
        req.end(data ?? undefined);
    });
}

export class RESTClient {
    /**
     * @param {object} server a startServer({rest: true}) result
     * @param {{user: string, password?: string}} credentials
     */
    constructor(server, { user, password = 'password' }) {
        if (!server.restURL) {
            throw new Error('the server was started without its REST listener (startServer({rest: true}))');
        }
        this.baseURL = server.restURL;
        this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
        this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.caPEM });
    }

    /**
     * Sends method path with an XML body (none when null) and, when
     * requestId is given, the requestId header. Resolves with {status,
     * headers, body}.
     */
    request(method, path, { body = null, requestId = null, timeoutMs = 10_000 } = {}) {
        const url = new URL(path, this.baseURL);
        const data = body === null ? null : Buffer.from(body, 'utf8');
        const headers = { Authorization: this.authorization };
        if (data) {
            headers['Content-Type'] = 'application/xml';
            headers['Content-Length'] = data.length;
        }
        if (requestId !== null) {
            headers.requestId = requestId;
        }
        return httpsRequest(url, { method, agent: this.agent, headers, data, timeoutMs });
    }

    /** PUTs <User>inner</User> on /finesse/api/User/<id>. */
    putUser(id, inner, requestId) {
        return this.request('PUT', `/finesse/api/User/${id}`, { body: `<User>${inner}</User>`, requestId });
    }

    close() {
        this.agent.destroy();
    }
}

/** The text of the first child element of el named localName, or null. */
function textOf(el, localName) {
    const found = el ? Array.from(el.childNodes).find((n) => n.nodeType === 1 && n.localName === localName) : null;
    return found ? found.textContent : null;
}

/**
 * Parses the text of a <notification> as Finesse's <Update> and returns
 * {event, requestId, source, user: {loginId, state} | null}, or null if it
 * is not an Update.
 */
export function readUpdate(text) {
    let root;
    try {
        root = new DOMParser({ onError: () => {} }).parseFromString(text, 'text/xml').documentElement;
    } catch {
        return null;
    }
    if (!root || root.localName !== 'Update') {
        return null;
    }
    const data = Array.from(root.childNodes).find((n) => n.nodeType === 1 && n.localName === 'data');
    const user = data ? Array.from(data.childNodes).find((n) => n.nodeType === 1 && n.localName === 'user') : null;
    return {
        event: textOf(root, 'event'),
        requestId: textOf(root, 'requestId'),
        source: textOf(root, 'source'),
        user: user ? { loginId: textOf(user, 'loginId'), state: textOf(user, 'state') } : null,
    };
}
