package rest

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// The SystemInfo status values (DEV systeminfo-statuses).
const (
	StatusInService    = "IN_SERVICE"
	StatusOutOfService = "OUT_OF_SERVICE"
)

// timestampLayout is Finesse's currentTimestamp: ISO-8601 in UTC with
// milliseconds.
const timestampLayout = "2006-01-02T15:04:05.000Z"

// systemStatus is the service status the control endpoint sets.
type systemStatus struct {
	// change serialises a status change with its notification, so that
	// notifications go out in the order the changes were made.
	change sync.Mutex

	mu           sync.Mutex
	outOfService bool
	reason       string
}

func (a *API) outOfService() bool {
	a.system.mu.Lock()
	defer a.system.mu.Unlock()
	return a.system.outOfService
}

// GET /finesse/api/SystemInfo: for any authenticated user. Whether
// Finesse asks for credentials here is not documented; it groups
// SystemInfo with the serviceability APIs, which take Basic and lock out
// like the others (DG125#333), and Cisco's samples always send them.
func (a *API) getSystemInfo(w http.ResponseWriter, _ *http.Request, _ directory.User) {
	writeXML(w, a.systemInfoXML())
}

// systemInfoXML renders <SystemInfo> with the fields the stand-in can fill
// truthfully, in the documented order (DEV systeminfo). There is no CTI
// server, licence or peripheral to report, and no secondaryNode: Cisco's
// library reads an absent secondaryNode/host as a single-node deployment.
func (a *API) systemInfoXML() []byte {
	a.system.mu.Lock()
	outOfService, reason := a.system.outOfService, a.system.reason
	a.system.mu.Unlock()

	status := StatusInService
	if outOfService {
		status = StatusOutOfService
	}
	now := a.cfg.Now()
	// timezoneOffset is the server zone's offset from UTC in minutes,
	// east positive (a server in India reports 330).
	_, offset := now.In(time.Local).Zone()

	b := make([]byte, 0, 512)
	b = append(b, "<SystemInfo><currentTimestamp>"...)
	b = now.UTC().AppendFormat(b, timestampLayout)
	b = append(b, "</currentTimestamp><deploymentType>UCCE</deploymentType><primaryNode><host>"...)
	b = append(b, xmlText(a.cfg.Host)...)
	b = append(b, "</host></primaryNode><status>"...)
	b = append(b, status...)
	b = append(b, "</status>"...)
	if outOfService && reason != "" {
		b = append(b, "<statusReason>"...)
		b = append(b, xmlText(reason)...)
		b = append(b, "</statusReason>"...)
	}
	b = append(b, "<systemAuthMode>NON_SSO</systemAuthMode><timezoneOffset>"...)
	b = strconv.AppendInt(b, int64(offset/60), 10)
	b = append(b, "</timezoneOffset><uri>"...)
	b = append(b, finesse.SystemInfoNode...)
	b = append(b, "</uri><xmppDomain>"...)
	b = append(b, xmlText(a.cfg.Domain)...)
	b = append(b, "</xmppDomain><xmppPubSubDomain>"...)
	b = append(b, xmlText(a.cfg.PubSubDomain)...)
	b = append(b, "</xmppPubSubDomain></SystemInfo>"...)
	return b
}

// setStatus puts the system in or out of service. A change publishes a
// SystemInfo PUT Update on /finesse/api/SystemInfo, as Finesse does when
// it loses or regains its CTI link (DG125#378); setting the status it
// already has publishes nothing. The reason is reported as statusReason
// while out of service.
func (a *API) setStatus(inService bool, reason, requestID string) (changed bool, err error) {
	a.system.change.Lock()
	defer a.system.change.Unlock()

	a.system.mu.Lock()
	if inService {
		reason = ""
	}
	changed = a.system.outOfService == inService || a.system.reason != reason
	a.system.outOfService, a.system.reason = !inService, reason
	a.system.mu.Unlock()

	if !changed || a.cfg.Publisher == nil {
		return changed, nil
	}
	_, err = a.cfg.Publisher.Publish(finesse.SystemInfoNode, finesse.Update{
		Data:      a.systemInfoXML(),
		Event:     "PUT",
		RequestID: requestID,
		Source:    finesse.SystemInfoNode,
	})
	if err != nil {
		return true, fmt.Errorf("publish SystemInfo: %w", err)
	}
	return true, nil
}
