package finesse

import (
	"strconv"
	"unicode/utf8"
)

// The XML writing shared by everything that renders Finesse and CCP
// documents: element names are constants of their callers, text is
// escaped on its way in.

// AppendText appends s escaped as XML character data: &, <, > and CR as
// in EscapeNotificationText (CR as &#xD;, so that a parser's line-end
// normalisation keeps it), and U+FFFD for what XML 1.0 cannot carry
// (control characters, invalid UTF-8), so that a document built from any
// input is well-formed.
func AppendText(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < utf8.RuneSelf {
			switch c {
			case '&':
				dst = append(dst, "&amp;"...)
			case '<':
				dst = append(dst, "&lt;"...)
			case '>':
				dst = append(dst, "&gt;"...)
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\r':
			dst = append(dst, "&#xD;"...)
		case !xmlChar(r, size):
			dst = utf8.AppendRune(dst, utf8.RuneError)
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// AppendAttr appends s escaped as the value of a double-quoted attribute:
// as AppendText, plus " as &quot; and tab and line feed as character
// references, so that attribute-value normalisation keeps them.
func AppendAttr(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"', '\t', '\n':
			return appendAttrSlow(dst, s)
		}
	}
	return AppendText(dst, s)
}

func appendAttrSlow(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		var ref string
		switch s[i] {
		case '"':
			ref = "&quot;"
		case '\t':
			ref = "&#x9;"
		case '\n':
			ref = "&#xA;"
		default:
			continue
		}
		dst = AppendText(dst, s[start:i])
		dst = append(dst, ref...)
		start = i + 1
	}
	return AppendText(dst, s[start:])
}

// AppendOpen appends <name>.
func AppendOpen(dst []byte, name string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	return append(dst, '>')
}

// AppendClose appends </name>.
func AppendClose(dst []byte, name string) []byte {
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// AppendElem appends <name>text</name>, text escaped.
func AppendElem(dst []byte, name, text string) []byte {
	dst = AppendOpen(dst, name)
	dst = AppendText(dst, text)
	return AppendClose(dst, name)
}

// MediaAPIError renders the <apiErrors> data of Finesse's asynchronous
// error for a media routing domain (the Media and Dialogs/Media nodes'
// error Updates, FINESSE-REFERENCE §4.3): one <apiError> with its data,
// MRD id, message and type.
func MediaAPIError(mrdID int, data, message, errType string) []byte {
	b := append([]byte(nil), "<apiErrors><apiError>"...)
	b = AppendElem(b, "errorData", data)
	b = AppendElem(b, "errorMedia", strconv.Itoa(mrdID))
	b = AppendElem(b, "errorMessage", message)
	b = AppendElem(b, "errorType", errType)
	return append(b, "</apiError></apiErrors>"...)
}
