package rest

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/task"
)

// newTaskHarness is the harness with a task router, and a queue on the
// chat MRD (2) of the test directory.
func newTaskHarness(t *testing.T) (*harness, *task.Router) {
	t.Helper()
	var router *task.Router
	h := newHarness(t, func(c *Config) {
		// The test directory with a script selector, swapped in as a
		// reload would.
		next, err := directory.Parse([]byte(testDirectoryYAML +
			"scriptSelectors: [{name: ChatTask, skillGroupId: 5200, queueNumber: \"5022\", queueName: Chat.SG, mrd: 2}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		c.Directory.Swap(next)
		router = task.New(task.Config{Directory: c.Directory, Agents: c.Agents, Publisher: c.Publisher, Now: c.Now})
		c.Tasks = router
	})
	t.Cleanup(router.Close)
	return h, router
}

// dialogUpdate is a Dialogs/Media notification, parsed.
type dialogUpdate struct {
	event, requestID, source string
	state, errorType         string
}

// dialogUpdates returns the Dialogs/Media notifications among got.
func dialogUpdates(t *testing.T, got []published) []dialogUpdate {
	t.Helper()
	var out []dialogUpdate
	for _, p := range got {
		if !strings.HasSuffix(p.node, "/Dialogs/Media") {
			continue
		}
		var doc struct {
			State     string `xml:"state"`
			Listed    string `xml:"Dialog>state"`
			ErrorType string `xml:"apiError>errorType"`
		}
		if err := xml.Unmarshal(p.update.Data, &doc); err != nil {
			t.Fatalf("notification data: %v\n%s", err, p.update.Data)
		}
		u := dialogUpdate{event: p.update.Event, requestID: p.update.RequestID, source: p.update.Source,
			state: doc.State + doc.Listed, errorType: doc.ErrorType}
		out = append(out, u)
	}
	return out
}

func TestTaskDialogs(t *testing.T) {
	h, router := newTaskHarness(t)
	for _, body := range []string{"<Media><state>LOGIN</state><maxDialogLimit>2</maxDialogLimit></Media>", "<Media><state>READY</state></Media>"} {
		if r := h.put("1001", "/finesse/api/User/1001/Media/2", body); r.status != http.StatusAccepted {
			t.Fatalf("media: %d %s", r.status, r.body)
		}
	}
	if err := router.Submit(task.Task{ContactID: "C1", ScriptSelector: "ChatTask",
		Variables: []task.Variable{{Name: "cv_1", Value: "Scott"}}}); err != nil {
		t.Fatal(err)
	}
	h.pub.take()
	j, _ := router.Journey("C1")
	id := j.TaskID
	path := "/finesse/api/Dialog/" + id

	// Reading: the participant, its supervisor and an administrator.
	for _, user := range []string{"1001", "2001", "Admin"} {
		r := h.get(user, path)
		if r.status != http.StatusOK || !strings.HasPrefix(r.body, "<Dialog><taskId>") ||
			!strings.Contains(r.body, "<state>OFFERED</state>") || !strings.Contains(r.body, "<name>callVariable1</name><value>Scott</value>") {
			t.Errorf("GET by %s: %d %s", user, r.status, r.body)
		}
	}
	wantAPIError(t, h.get("1002", path), http.StatusUnauthorized, "Invalid Authorization User Specified", "", "1002")
	wantAPIError(t, h.get("2002", path), http.StatusUnauthorized, "Invalid Authorization User Specified", "", "2002")
	wantAPIError(t, h.get("1001", "/finesse/api/Dialog/1_2_3"), http.StatusNotFound, "Not Found", "Dialog not found", "1_2_3")
	r := h.get("1001", "/finesse/api/User/1001/Media/2/Dialogs")
	if r.status != http.StatusOK || strings.Count(r.body, "<Dialog>") != 1 || !strings.Contains(r.body, "<id>"+id+"</id>") {
		t.Errorf("Media dialogs: %d %s", r.status, r.body)
	}
	if r := h.get("2001", "/finesse/api/User/1002/Media/2/Dialogs"); r.status != http.StatusOK || r.body != "<Dialogs/>" {
		t.Errorf("no dialogs: %d %s", r.status, r.body)
	}
	wantAPIError(t, h.get("1002", "/finesse/api/User/1001/Media/2/Dialogs"), http.StatusUnauthorized, "Invalid Authorization User Specified", "", "1001")
	wantAPIError(t, h.get("1001", "/finesse/api/User/1001/Media/1/Dialogs"), http.StatusNotFound, "Not Found", "", "1")
	wantAPIError(t, h.get("1001", "/finesse/api/User/1001/Media/9/Dialogs"), http.StatusNotFound, "Not Found", "", "9")
	if r := h.get("1001", "/finesse/api/User/1001/Dialogs?nonVoice=true"); !strings.Contains(r.body, "<id>"+id+"</id>") {
		t.Errorf("Dialogs?nonVoice=true: %d %s", r.status, r.body)
	}
	if r := h.get("1001", "/finesse/api/User/1001/Dialogs"); r.body != "<Dialogs/>" {
		t.Errorf("voice Dialogs: %d %s", r.status, r.body)
	}

	// Acting: only the participant; refusals publish nothing.
	put := func(user, body, requestID string) response {
		t.Helper()
		return h.do(req{method: http.MethodPut, path: path, user: user, body: body, header: map[string]string{"requestId": requestID}})
	}
	accept := "<Dialog><requestedAction>ACCEPT</requestedAction><targetMediaAddress>1001</targetMediaAddress></Dialog>"
	wantAPIError(t, put("1002", accept, "x"), http.StatusUnauthorized, "Invalid Authorization User Specified", "", "1002")
	wantAPIError(t, put("Admin", accept, "x"), http.StatusUnauthorized, "Invalid Authorization User Specified", "", "Admin")
	wantAPIError(t, h.put("1001", "/finesse/api/Dialog/1_2_3", accept), http.StatusNotFound, "Not Found", "", "1_2_3")
	wantAPIError(t, put("1001", "<Dialog><targetMediaAddress>1001</targetMediaAddress></Dialog>", "x"), http.StatusBadRequest, "Parameter Missing", "", "requestedAction")
	wantAPIError(t, put("1001", "<Dialog><requestedAction>ANSWER</requestedAction></Dialog>", "x"), http.StatusBadRequest, "Invalid Input", "", "ANSWER")
	wantAPIError(t, put("1001", "<Dialog><requestedAction>TRANSFER</requestedAction><toAddress>Nowhere</toAddress></Dialog>", "x"),
		http.StatusBadRequest, "Invalid Destination", "", "Nowhere")
	wantAPIError(t, put("1001", "<User><state>READY</state></User>", "x"), http.StatusBadRequest, "Invalid Input", "", "")
	h.wantNothingPublished()

	r = put("1001", accept, "r-accept")
	if r.status != http.StatusAccepted || r.body != "" || r.header.Get("requestId") != "r-accept" {
		t.Fatalf("ACCEPT: %d %q", r.status, r.body)
	}
	ups := dialogUpdates(t, h.pub.take())
	if len(ups) != 1 || ups[0].event != "PUT" || ups[0].state != "ACCEPTED" || ups[0].requestID != "r-accept" || ups[0].source != path {
		t.Errorf("ACCEPT notifications %+v", ups)
	}
	// An action the participant does not hold: 202, then the error.
	if r := put("1001", "<Dialog><requestedAction>RESUME</requestedAction></Dialog>", "r-resume"); r.status != http.StatusAccepted {
		t.Fatalf("RESUME: %d %s", r.status, r.body)
	}
	ups = dialogUpdates(t, h.pub.take())
	if len(ups) != 1 || ups[0].errorType != "Generic Error" || ups[0].requestID != "r-resume" || ups[0].source != path {
		t.Errorf("RESUME notifications %+v", ups)
	}
	if r := put("1001", `<Dialog><requestedAction>UPDATE_CALL_DATA</requestedAction><mediaProperties><callvariables>
		<CallVariable><name>callVariable2</name><value>two</value></CallVariable>
		<CallVariable><name>user.app</name><value>crm</value></CallVariable></callvariables></mediaProperties></Dialog>`, "r-data"); r.status != http.StatusAccepted {
		t.Fatalf("UPDATE_CALL_DATA: %d %s", r.status, r.body)
	}
	h.pub.take()
	if r := h.get("1001", path); !strings.Contains(r.body, "<name>callVariable2</name><value>two</value></CallVariable><CallVariable><name>user.app</name><value>crm</value>") {
		t.Errorf("after UPDATE_CALL_DATA: %s", r.body)
	}
	wantAPIError(t, put("1001", "<Dialog><requestedAction>UPDATE_CALL_DATA</requestedAction><mediaProperties><callvariables><CallVariable><name>callVariable0</name></CallVariable></callvariables></mediaProperties></Dialog>", "x"),
		http.StatusBadRequest, "Invalid Input", "", "callVariable0")

	if r := put("1001", "<Dialog><requestedAction>CLOSE</requestedAction></Dialog>", "r-close"); r.status != http.StatusAccepted {
		t.Fatalf("CLOSE: %d %s", r.status, r.body)
	}
	ups = dialogUpdates(t, h.pub.take())
	if len(ups) != 1 || ups[0].event != "DELETE" || ups[0].state != "CLOSED" || ups[0].requestID != "r-close" ||
		ups[0].source != "/finesse/api/User/1001/Media/2/Dialogs" {
		t.Errorf("CLOSE notifications %+v", ups)
	}
	wantAPIError(t, h.get("1001", path), http.StatusNotFound, "Not Found", "Dialog not found", id)
}

// TestDialogRoutesWithoutTasks: without a task router the Dialog calls
// stay as they were: GET 404, no PUT, no per-MRD list.
func TestDialogRoutesWithoutTasks(t *testing.T) {
	h := newHarness(t, nil)
	wantAPIError(t, h.put("1001", "/finesse/api/Dialog/1_2_3", "<Dialog><requestedAction>ACCEPT</requestedAction></Dialog>"),
		http.StatusMethodNotAllowed, "Method Not Allowed", "", "PUT")
	wantAPIError(t, h.get("1001", "/finesse/api/User/1001/Media/2/Dialogs"), http.StatusNotFound, "Not Found", "", "")
	if r := h.get("1001", "/finesse/api/User/1001/Dialogs?nonVoice=true"); r.body != "<Dialogs/>" {
		t.Errorf("Dialogs?nonVoice=true: %d %s", r.status, r.body)
	}
}
