// Stanzas as every client of the suite writes and reads them: the Strophe.js
// child process (lib/strophe-child.mjs), the pubsub page in Chromium
// (browser/pubsub-page.js, which loads this file as /stanzas.mjs) and the
// tests. Plain JavaScript and DOM calls only, no Node modules, so that it
// runs in both places.
//
// - Elements in a DOM (xmldom's in Node, Chromium's in the page).
// - The XEP-0060 requests the clients send, described as plain data so that
//   they cross the IPC channel and page.evaluate, and built where they are
//   sent with that client's Strophe builder (buildIQ).
// - Reading a pubsub notification (<message><event><items><item>).

export const PUBSUB_NS = 'http://jabber.org/protocol/pubsub';
export const PUBSUB_EVENT_NS = 'http://jabber.org/protocol/pubsub#event';

/** The child elements of el, in document order. */
export function elementChildren(el) {
    const out = [];
    for (let node = el.firstChild; node; node = node.nextSibling) {
        if (node.nodeType === 1) {
            out.push(node);
        }
    }
    return out;
}

/** The first child element of el named localName (in namespace ns, if given), or null. */
export function childElement(el, localName, ns) {
    return elementChildren(el).find((c) => c.localName === localName && (!ns || c.namespaceURI === ns)) ?? null;
}

// ---------------------------------------------------------------------------
// IQ requests as data: {attrs, children: [{name, attrs?, text?, children?}]}

/** <subscribe node jid/> (XEP-0060 §6.1), as Strophe applications send it. */
export function subscribeIQ({ to, node, jid }) {
    return {
        attrs: { type: 'set', to },
        children: [{ name: 'pubsub', attrs: { xmlns: PUBSUB_NS }, children: [{ name: 'subscribe', attrs: { node, jid } }] }],
    };
}

/**
 * <publish node><item><notification>text</notification></item></publish>
 * (XEP-0060 §7.1), no item id; Strophe escapes the text.
 */
export function publishIQ({ to, node, text }) {
    const notification = { name: 'notification', attrs: { xmlns: PUBSUB_NS }, text };
    return {
        attrs: { type: 'set', to },
        children: [
            {
                name: 'pubsub',
                attrs: { xmlns: PUBSUB_NS },
                children: [{ name: 'publish', attrs: { node }, children: [{ name: 'item', children: [notification] }] }],
            },
        ],
    };
}

/**
 * Builds the IQ a request describes with Strophe's builder ($iq of the
 * Strophe.js at hand), as an application would write it by hand.
 */
export function buildIQ($iq, { attrs, children = [] }) {
    const iq = $iq(attrs);
    const add = ({ name, attrs: childAttrs, text, children: grandchildren = [] }) => {
        iq.c(name, childAttrs);
        if (text !== undefined) {
            iq.t(text);
        }
        grandchildren.forEach(add);
        iq.up();
    };
    children.forEach(add);
    return iq;
}

// ---------------------------------------------------------------------------
// Notifications

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
    const event = childElement(el, 'event', PUBSUB_EVENT_NS);
    const items = event && childElement(event, 'items', PUBSUB_EVENT_NS);
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
