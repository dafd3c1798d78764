// Package xmlbody reads the XML request bodies of finesse-notify's HTTP
// APIs (Finesse's REST API and CCP's Task API): a body bounded in size, and
// one strict XML document with a known root element. Each API turns the
// errors into its own error document.
package xmlbody
