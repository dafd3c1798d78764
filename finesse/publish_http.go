package finesse

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
)

// PublishPath is where PublishHandler belongs on the REST listener: outside
// /finesse/api, so that it is never mistaken for Finesse's own API.
const PublishPath = "/finesse-notify/publish"

// DefaultMaxPublishBody is PublishHandler's body limit when given none.
const DefaultMaxPublishBody = 256 << 10

// PublishHandler serves POST /finesse-notify/publish?node=<node>: an
// administrator (HTTP Basic, checked against dir) publishes the request
// body, a raw Update document, to node as a Finesse notification. The body
// may be any well-formed XML document; a leading XML declaration and the
// whitespace around the document are dropped, and the rest is escaped byte
// for byte into the <notification>. maxBody bounds the body
// (DefaultMaxPublishBody when <= 0).
//
// Answers: 200 <published node='…' itemId='…' deliveries='N'/>; 400 no
// node or a body that is not well-formed XML; 401 (with a Basic challenge)
// without valid credentials; 403 for a user who is not an administrator;
// 404 for a node that does not exist; 405 for a method other than POST;
// 413 for a body over maxBody or a notification over the pubsub payload
// limit. Errors carry Finesse's <ApiErrors> body.
func PublishHandler(n *Notifier, dir *directory.Directory, maxBody int64) http.Handler {
	if maxBody <= 0 {
		maxBody = DefaultMaxPublishBody
	}
	return &publishHandler{n: n, dir: dir, maxBody: maxBody}
}

type publishHandler struct {
	n       *Notifier
	dir     *directory.Directory
	maxBody int64
}

func (h *publishHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeAPIError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "Only POST publishes", r.Method)
		return
	}
	name, pass, hasAuth := r.BasicAuth()
	local, ok := "", false
	if hasAuth {
		local, ok = h.dir.Authenticate(name, pass)
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="finesse-notify", charset="UTF-8"`)
		writeAPIError(w, http.StatusUnauthorized, "Authorization Failure", "UNAUTHORIZED", "")
		return
	}
	user, ok := h.dir.User(local)
	if !ok || user.Role != directory.RoleAdministrator {
		writeAPIError(w, http.StatusForbidden, "Invalid Authorization User Specified",
			"Only an administrator may publish", user.ID)
		return
	}
	node := r.URL.Query().Get("node")
	if node == "" {
		writeAPIError(w, http.StatusBadRequest, "Parameter Missing", "The node query parameter is missing", "node")
		return
	}
	if r.ContentLength > h.maxBody {
		h.tooLarge(w)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.tooLarge(w)
			return
		}
		writeAPIError(w, http.StatusBadRequest, "Invalid Input", "The body could not be read", "")
		return
	}
	doc, err := wellFormedDocument(body)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "Invalid Input", "The body is not a well-formed XML document: "+err.Error(), "")
		return
	}
	published, err := h.n.PublishRaw(node, doc)
	switch {
	case errors.Is(err, pubsub.ErrNodeNotFound):
		writeAPIError(w, http.StatusNotFound, "Not Found", "No such node", node)
		return
	case errors.Is(err, pubsub.ErrPayloadTooBig):
		writeAPIError(w, http.StatusRequestEntityTooLarge, "Invalid Input",
			"The escaped notification exceeds the pubsub payload limit", node)
		return
	case err != nil:
		h.n.log.Error("HTTP publish failed", zap.String("user", user.ID), zap.String("node", node), zap.Error(err))
		writeAPIError(w, http.StatusInternalServerError, "Generic Error", "The publish failed", node)
		return
	}
	h.n.log.Debug("HTTP publish", zap.String("user", user.ID), zap.String("node", node),
		zap.String("item", published.ItemID), zap.Int("deliveries", published.Deliveries))
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, "<published node='"+server.EscapeText(published.Node)+
		"' itemId='"+server.EscapeText(published.ItemID)+
		"' deliveries='"+strconv.Itoa(published.Deliveries)+"'/>")
}

func (h *publishHandler) tooLarge(w http.ResponseWriter) {
	writeAPIError(w, http.StatusRequestEntityTooLarge, "Invalid Input",
		"The body exceeds the limit", strconv.FormatInt(h.maxBody, 10))
}

// writeAPIError answers with Finesse's synchronous error body
// (FINESSE-REFERENCE §4).
func writeAPIError(w http.ResponseWriter, status int, errType, message, data string) {
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, "<ApiErrors><ApiError><ErrorType>"+server.EscapeText(errType)+
		"</ErrorType><ErrorMessage>"+server.EscapeText(message)+
		"</ErrorMessage><ErrorData>"+server.EscapeText(data)+
		"</ErrorData></ApiError></ApiErrors>")
}

// utf8BOM may open a UTF-8 document; it is not part of what is published.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// xmlSpace is XML's white space (S production).
const xmlSpace = " \t\r\n"

// wellFormedDocument checks that body is one well-formed, namespace-
// well-formed XML document in UTF-8 and returns it without a byte-order
// mark, a leading XML declaration and the white space around it. Comments
// and processing instructions are allowed; a DTD is not, since nothing
// downstream could honour its entities. Memory use is bounded by the body.
func wellFormedDocument(body []byte) ([]byte, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	body = bytes.TrimLeft(body, xmlSpace)
	doc := body
	if hasXMLDecl(body) {
		end := bytes.Index(body, []byte("?>"))
		if end < 0 {
			return nil, errors.New("unterminated XML declaration")
		}
		doc = body[end+2:]
	}
	doc = bytes.Trim(doc, xmlSpace)
	// The decoder reads the declaration too, so that a bad version or a
	// non-UTF-8 encoding is refused.
	if err := walkDocument(body); err != nil {
		return nil, err
	}
	return doc, nil
}

// hasXMLDecl reports whether b opens with <?xml followed by white space
// or ?> (and not a PI such as <?xml-stylesheet).
func hasXMLDecl(b []byte) bool {
	const decl = "<?xml"
	if !bytes.HasPrefix(b, []byte(decl)) || len(b) == len(decl) {
		return false
	}
	c := b[len(decl)]
	return strings.IndexByte(xmlSpace, c) >= 0 || c == '?'
}

// openTag is an element being read: its raw name and the namespace
// prefixes it declares.
type openTag struct {
	raw      xml.Name
	prefixes map[string]string
}

// docWalker checks namespace well-formedness, end-tag matching and unique
// attributes, which encoding/xml's raw tokens leave to the caller.
type docWalker struct {
	stack []openTag
}

func walkDocument(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	var (
		w        docWalker
		rootSeen bool
		first    = true
	)
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			switch {
			case !rootSeen:
				return errors.New("no root element")
			case len(w.stack) > 0:
				return fmt.Errorf("element <%s> is not closed", rawName(w.stack[len(w.stack)-1].raw))
			}
			return nil
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return fmt.Errorf("line %d: %s", se.Line, se.Msg)
			}
			return err
		}
		isFirst := first
		first = false
		switch t := tok.(type) {
		case xml.StartElement:
			if len(w.stack) == 0 {
				if rootSeen {
					return errors.New("more than one root element")
				}
				rootSeen = true
			}
			if err := w.start(t); err != nil {
				return err
			}
		case xml.EndElement:
			if len(w.stack) == 0 {
				return fmt.Errorf("unexpected end tag </%s>", rawName(t.Name))
			}
			if top := w.stack[len(w.stack)-1].raw; top != t.Name {
				return fmt.Errorf("element <%s> closed by </%s>", rawName(top), rawName(t.Name))
			}
			w.stack = w.stack[:len(w.stack)-1]
		case xml.CharData:
			if len(w.stack) == 0 && len(bytes.Trim(t, xmlSpace)) != 0 {
				return errors.New("text outside the root element")
			}
		case xml.ProcInst:
			// Targets spelled xml in any case are reserved; only the
			// declaration, first in the document, may use one.
			if strings.EqualFold(t.Target, "xml") && (!isFirst || t.Target != "xml") {
				return errors.New("an XML declaration that does not open the document")
			}
		case xml.Directive:
			return errors.New("DTDs and other declarations are not allowed")
		case xml.Comment:
			// Allowed anywhere.
		}
	}
}

const nsXMLNS = "http://www.w3.org/2000/xmlns/"

func (w *docWalker) lookup(prefix string) (string, bool) {
	if prefix == "xml" {
		return server.NSXML, true
	}
	for i := len(w.stack) - 1; i >= 0; i-- {
		if uri, ok := w.stack[i].prefixes[prefix]; ok {
			return uri, true
		}
	}
	return "", false
}

func (w *docWalker) start(t xml.StartElement) error {
	tag := openTag{raw: t.Name}
	for _, a := range t.Attr {
		if a.Name.Space != "xmlns" {
			continue
		}
		p := a.Name.Local
		switch {
		case p == "xmlns" || a.Value == nsXMLNS:
			return fmt.Errorf("the prefix xmlns and its namespace cannot be declared")
		case (p == "xml") != (a.Value == server.NSXML):
			return fmt.Errorf("the prefix xml is bound to %s only", server.NSXML)
		case a.Value == "":
			return fmt.Errorf("prefix %s is bound to an empty namespace", p)
		}
		if tag.prefixes == nil {
			tag.prefixes = make(map[string]string, 1)
		}
		if _, dup := tag.prefixes[p]; dup {
			return fmt.Errorf("duplicate attribute xmlns:%s", p)
		}
		tag.prefixes[p] = a.Value
	}
	w.stack = append(w.stack, tag)
	if t.Name.Space == "xmlns" {
		return fmt.Errorf("element <%s>: the prefix xmlns is reserved", rawName(t.Name))
	}
	if t.Name.Space != "" {
		if _, ok := w.lookup(t.Name.Space); !ok {
			return fmt.Errorf("element <%s>: undeclared prefix %s", rawName(t.Name), t.Name.Space)
		}
	}
	if strings.Contains(t.Name.Local, ":") {
		return fmt.Errorf("element <%s>: a colon that does not follow a prefix", rawName(t.Name))
	}
	return w.uniqueAttributes(t.Attr)
}

// uniqueAttributes checks that attributes are unique by raw name and, once
// prefixes are resolved, by (namespace, local name). A map takes over from
// pairwise comparison on long lists, so that a body of many attributes
// cannot make the check quadratic.
func (w *docWalker) uniqueAttributes(attrs []xml.Attr) error {
	type expanded struct{ uri, local string }
	var (
		rawSeen map[xml.Name]struct{}
		expSeen map[expanded]struct{}
	)
	const pairwise = 16
	if len(attrs) > pairwise {
		rawSeen = make(map[xml.Name]struct{}, len(attrs))
		expSeen = make(map[expanded]struct{}, len(attrs))
	}
	for i, a := range attrs {
		if strings.Contains(a.Name.Local, ":") {
			return fmt.Errorf("attribute %s: a colon that does not follow a prefix", rawName(a.Name))
		}
		if rawSeen != nil {
			if _, dup := rawSeen[a.Name]; dup {
				return fmt.Errorf("duplicate attribute %s", rawName(a.Name))
			}
			rawSeen[a.Name] = struct{}{}
		} else {
			for _, b := range attrs[:i] {
				if b.Name == a.Name {
					return fmt.Errorf("duplicate attribute %s", rawName(a.Name))
				}
			}
		}
		if a.Name.Space == "" || a.Name.Space == "xmlns" {
			continue
		}
		uri, ok := w.lookup(a.Name.Space)
		if !ok {
			return fmt.Errorf("attribute %s: undeclared prefix %s", rawName(a.Name), a.Name.Space)
		}
		if expSeen != nil {
			key := expanded{uri, a.Name.Local}
			if _, dup := expSeen[key]; dup {
				return fmt.Errorf("attribute %s repeats a name in namespace %s", rawName(a.Name), uri)
			}
			expSeen[key] = struct{}{}
			continue
		}
		for _, b := range attrs[:i] {
			if b.Name.Space == "" || b.Name.Space == "xmlns" || b.Name.Local != a.Name.Local {
				continue
			}
			if other, _ := w.lookup(b.Name.Space); other == uri {
				return fmt.Errorf("attribute %s repeats a name in namespace %s", rawName(a.Name), uri)
			}
		}
	}
	return nil
}

func rawName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
