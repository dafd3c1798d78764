package xmlbody

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ErrTooLarge is Read's error for a body over the limit.
var ErrTooLarge = errors.New("the request body exceeds the limit")

// Read reads r's body up to limit bytes. A longer body is ErrTooLarge,
// refused on its Content-Length before it is sent when that is honest;
// any other error is a body that could not be read.
func Read(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, ErrTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ErrTooLarge
		}
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	return body, nil
}

// utf8BOM is the byte-order mark some clients (.NET's among them) put
// before a UTF-8 document.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Decode unmarshals body, which must be one well-formed XML document whose
// root element is root, into v. White space, comments and processing
// instructions may surround the root element, and a UTF-8 byte-order mark
// may open the body; a DTD may not, nor any other content after the root
// element. encoding/xml itself refuses undeclared entities and encodings
// other than UTF-8. The error says what is wrong, with the line of a
// syntax error.
func Decode(body []byte, root string, v any) error {
	body = bytes.TrimPrefix(body, utf8BOM)
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	var start xml.StartElement
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return errors.New("no root element")
		}
		if err != nil {
			return syntaxError(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			start = se
			break
		}
		if err := outsideRoot(tok, "before"); err != nil {
			return err
		}
	}
	if start.Name.Local != root {
		return fmt.Errorf("the root element is <%s>, not <%s>", start.Name.Local, root)
	}
	if err := d.DecodeElement(v, &start); err != nil {
		return syntaxError(err)
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return syntaxError(err)
		}
		if _, ok := tok.(xml.StartElement); ok {
			return errors.New("content after the root element")
		}
		if err := outsideRoot(tok, "after"); err != nil {
			return err
		}
	}
}

// outsideRoot accepts what may stand before or after the root element.
func outsideRoot(tok xml.Token, where string) error {
	switch t := tok.(type) {
	case xml.CharData:
		if len(bytes.TrimSpace(t)) != 0 {
			return fmt.Errorf("text %s the root element", where)
		}
	case xml.Directive:
		return errors.New("DTDs are not accepted")
	}
	return nil
}

func syntaxError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("line %d: %s", se.Line, se.Msg)
	}
	return err
}
