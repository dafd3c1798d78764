// Task routing as the interop tests drive and read it:
//
// - TaskAPI: a multichannel application submitting tasks to the CCP Task
//   API over the REST listener (HTTPS, no credentials, as the API needs
//   none) and polling them.
// - Readers for what a client finds in a <notification>'s text: Finesse's
//   <Update> of a task Dialog (on /finesse/api/User/<id>/Dialogs/Media) or
//   of a <Media> (on /finesse/api/User/<id>/Media), and CCP's
//   <SocialContact> (on ccp.campaign.updates.<campaign>).

import https from 'node:https';

import { DOMParser } from '@xmldom/xmldom';

import { httpsRequest } from './rest.mjs';

/** The default directory's task set-up (finesse/directory/default.yaml). */
export const TASK = {
    agent: '1080',
    mrd: '5001',
    mrdName: 'Cisco_Task_MRD',
    feedPath: '/ccp/rest/task/feed/100000',
    campaign: 'Cisco_Default_Task_Campaign',
    campaignNode: 'ccp.campaign.updates.Cisco_Default_Task_Campaign',
    scriptSelector: 'CumulusTask',
    queueNumber: '12282837',
};

export const dialogsMediaNode = (id) => `/finesse/api/User/${id}/Dialogs/Media`;
export const mediaNode = (id) => `/finesse/api/User/${id}/Media`;

const escapeXML = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * A <Task> body: name, title, the script selector, and variables given as
 * [name, value] pairs (cv_1…cv_10, user_<ecc>), values escaped here.
 */
export function taskBody({ name, title = 'Order help', scriptSelector = TASK.scriptSelector, variables = [] }) {
    const vars = variables
        .map(([n, v]) => `<variable><name>${escapeXML(n)}</name><value>${escapeXML(v)}</value></variable>`)
        .join('');
    return (
        `<Task><name>${escapeXML(name)}</name><title>${escapeXML(title)}</title>` +
        `<scriptSelector>${escapeXML(scriptSelector)}</scriptSelector><variables>${vars}</variables></Task>`
    );
}

export class TaskAPI {
    /** @param {object} server a startServer({rest: true}) result */
    constructor(server) {
        if (!server.restURL) {
            throw new Error('the server was started without its REST listener (startServer({rest: true}))');
        }
        this.baseURL = server.restURL;
        this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.caPEM });
    }

    /** Sends method path (body: XML or null); resolves with {status, headers, body}. */
    request(method, path, { body = null, timeoutMs = 10_000 } = {}) {
        const url = new URL(path, this.baseURL);
        const data = body === null ? null : Buffer.from(body, 'utf8');
        const headers = data ? { 'Content-Type': 'application/xml', 'Content-Length': data.length } : {};
        return httpsRequest(url, { method, agent: this.agent, headers, data, timeoutMs });
    }

    /**
     * POSTs a <Task> to the default feed. Resolves with {status, location,
     * contactId, body}: contactId is the 32 hex digits ending the Location
     * …/ccp/rest/task/contact/<id>, or null.
     */
    async submit(body) {
        const res = await this.request('POST', TASK.feedPath, { body });
        const location = res.headers.location ?? null;
        const prefix = `${this.baseURL}/ccp/rest/task/contact/`;
        const id = location && location.startsWith(prefix) ? location.slice(prefix.length) : null;
        return { status: res.status, location, contactId: id && /^[0-9A-F]{32}$/.test(id) ? id : null, body: res.body };
    }

    /** GETs the contact's poll URL; resolves with {status, task: {status, statusReason, taskID, agentID} | null}. */
    async poll(contactId) {
        const res = await this.request('GET', `/ccp/rest/task/contact/${contactId}`);
        const root = parse(res.body);
        const task = root && root.localName === 'Task' ? textChildren(root) : null;
        return { status: res.status, body: res.body, task };
    }

    close() {
        this.agent.destroy();
    }
}

function parse(text) {
    try {
        return new DOMParser({ onError: () => {} }).parseFromString(text, 'text/xml').documentElement ?? null;
    } catch {
        return null;
    }
}

function elements(el) {
    return el ? Array.from(el.childNodes).filter((n) => n.nodeType === 1) : [];
}

function child(el, localName) {
    return elements(el).find((c) => c.localName === localName) ?? null;
}

function text(el, localName) {
    const found = child(el, localName);
    return found ? found.textContent : null;
}

/** The children of el that hold no element, as {localName: text}. */
function textChildren(el) {
    return Object.fromEntries(elements(el).filter((c) => elements(c).length === 0).map((c) => [c.localName, c.textContent]));
}

/** Reads <Update>; null if text is not one. */
function readUpdateRoot(text_) {
    const root = parse(text_);
    if (!root || root.localName !== 'Update') {
        return null;
    }
    const data = elements(child(root, 'data'));
    return {
        event: text(root, 'event'),
        requestId: text(root, 'requestId'),
        source: text(root, 'source'),
        data: data.length === 1 ? data[0] : null,
    };
}

function readDialog(el) {
    const taskId = child(el, 'taskId');
    const props = child(el, 'mediaProperties');
    const participants = elements(child(el, 'participants')).filter((p) => p.localName === 'Participant');
    const participant = participants[0] ?? null;
    return {
        root: el.localName,
        id: text(el, 'id'),
        taskId: taskId && {
            day: text(taskId, 'routerCallKeyDay'),
            callId: text(taskId, 'routerCallKeyCallID'),
            seq: text(taskId, 'routerCallKeySequenceNum'),
        },
        mediaProperties: props ? textChildren(props) : null,
        callVariables: elements(child(props, 'callvariables'))
            .filter((v) => v.localName === 'CallVariable')
            .map((v) => ({ name: text(v, 'name'), value: text(v, 'value') })),
        mediaType: text(el, 'mediaType'),
        participants: participants.length,
        participant: participant && {
            actions: elements(child(participant, 'actions')).map((a) => a.textContent),
            mediaAddress: text(participant, 'mediaAddress'),
            state: text(participant, 'state'),
            startTime: text(participant, 'startTime'),
        },
        dispositionCode: text(el, 'dispositionCode'),
        state: text(el, 'state'),
        uri: text(el, 'uri'),
    };
}

/**
 * Reads a task Dialog's <Update>: {event, requestId, source, wrapper,
 * dialog}. A POST or DELETE carries <dialogs><Dialog/></dialogs> (wrapper
 * 'dialogs'), a PUT <dialog/> (wrapper null). dialog is null unless the
 * data holds exactly one dialog. Returns null if text is not an Update.
 */
export function readDialogUpdate(text_) {
    const u = readUpdateRoot(text_);
    if (!u) {
        return null;
    }
    let wrapper = null;
    let dialog = null;
    if (u.data?.localName === 'dialogs') {
        wrapper = 'dialogs';
        const list = elements(u.data);
        if (list.length === 1 && list[0].localName === 'Dialog') {
            dialog = readDialog(list[0]);
        }
    } else if (u.data?.localName === 'dialog') {
        dialog = readDialog(u.data);
    }
    return { event: u.event, requestId: u.requestId, source: u.source, wrapper, dialog };
}

/** Reads a <Media> <Update>: {event, requestId, source, media: {id, state, maxDialogLimit, …} | null}. */
export function readMediaUpdate(text_) {
    const u = readUpdateRoot(text_);
    if (!u) {
        return null;
    }
    return { event: u.event, requestId: u.requestId, source: u.source, media: u.data?.localName === 'Media' ? textChildren(u.data) : null };
}

/**
 * Reads a <SocialContact>: {fields: {id, status, statusReason,
 * statusUserId, …}, extensionFields: {name: value}}, or null.
 */
export function readSocialContact(text_) {
    const root = parse(text_);
    if (!root || root.localName !== 'SocialContact') {
        return null;
    }
    const extensionFields = Object.fromEntries(
        elements(child(root, 'extensionFields'))
            .filter((f) => f.localName === 'extensionField')
            .map((f) => [text(f, 'name'), text(f, 'value')]),
    );
    return { fields: textChildren(root), extensionFields };
}
