package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Task mode: each event is a task submitted to the CCP Task API
// (POST /ccp/task/feed/<feed>) with the token in its title and in call
// variable cv_1. The router offers it to one agent, whichever it picks,
// whose desktop sees the task Dialog arrive with a POST Update on
// /finesse/api/User/<id>/Dialogs/Media; the token comes back as
// callVariable cv_1. One tracker serves every session, since any of them
// may receive any task. Like a desktop, the session then accepts and
// closes the dialog over REST, so the agent can take the next task; the
// Updates of those changes carry the token too and are not counted.

// taskRequest submits one task.
func (r *runner) taskRequest(ctx context.Context, _ int, _ *eventNode, token string) (*http.Request, error) {
	cfg := &r.cfg
	body := `<Task><name>finesse-load</name><title>` + token + `</title><scriptSelector>` + escape(cfg.TaskScriptSelector) +
		`</scriptSelector><variables><variable><name>cv_1</name><value>` + token + `</value></variable></variables></Task>`
	u := strings.TrimSuffix(cfg.RESTURL, "/") + "/ccp/task/feed/" + strconv.Itoa(cfg.TaskFeed)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/xml")
	return req, nil
}

// prepareTaskAgents signs every agent in to the task media routing
// domain and makes it READY there.
func (r *runner) prepareTaskAgents(ctx context.Context) error {
	users := r.distinctUsers()
	r.taskActions = make(chan taskAction, 4096)
	r.taskStop = make(chan struct{})
	for range r.cfg.HTTPConcurrency {
		r.taskWorkers.Add(1)
		go r.taskActor()
	}
	work := make(chan string)
	errs := make(chan error, len(users))
	var wg sync.WaitGroup
	for range r.cfg.HTTPConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := r.prepareTaskAgent(ctx, u); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, u := range users {
		select {
		case work <- u:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

func (r *runner) distinctUsers() []string {
	seen := make(map[string]bool)
	var out []string
	for _, s := range r.sessions {
		if s.established.Load() && !seen[s.user] {
			seen[s.user] = true
			out = append(out, s.user)
		}
	}
	return out
}

func (r *runner) prepareTaskAgent(ctx context.Context, user string) error {
	path := "/finesse/api/User/" + url.PathEscape(user) + "/Media/" + strconv.Itoa(r.cfg.TaskMRD)
	for _, body := range []string{
		`<Media><state>LOGIN</state><maxDialogLimit>` + strconv.Itoa(r.cfg.TaskMaxDialogs) +
			`</maxDialogLimit><interruptAction>ACCEPT</interruptAction><dialogLogoutAction>CLOSE</dialogLogoutAction></Media>`,
		`<Media><state>READY</state></Media>`,
	} {
		req, err := r.userRequest(ctx, http.MethodPut, user, path, body)
		if err != nil {
			return err
		}
		status, answer, err := doHTTP(r.httpClient, req)
		if err != nil || status/100 != 2 {
			return fmt.Errorf("agent %s in media %d: HTTP %d %v %s", user, r.cfg.TaskMRD, status, err, firstLine(answer))
		}
	}
	return nil
}

// taskAction is a dialog for its agent to accept and close.
type taskAction struct {
	user, dialog string
}

// onTask records a task Dialog that reached session s, and hands an
// offer to the REST workers to accept and close.
func (r *runner) onTask(s *session, el []byte, seq uint64, ts, now int64) {
	// Only the offer (a POST Update of the agent's task dialogs) is the
	// event; the ACCEPTED and CLOSED Updates that follow carry the token
	// as well.
	if !contains(el, "&lt;event&gt;POST&lt;/event&gt;") {
		return
	}
	r.taskMu.Lock()
	a := r.taskSeq.add(seq)
	r.taskMu.Unlock()
	if a == arrivalDuplicate {
		r.taskDups.Add(1)
		return
	}
	r.taskDone.Add(1)
	r.histogram().Record(time.Duration(now - ts))
	if id, ok := escapedChildText(el, "id"); ok {
		select {
		case r.taskActions <- taskAction{user: s.user, dialog: id}:
		case <-r.taskStop:
		default:
			r.noteError("task: too many dialogs waiting to be closed")
		}
	}
}

// escapedChildText finds <name>text</name> inside an escaped document.
func escapedChildText(el []byte, name string) (string, bool) {
	s := string(el)
	open := "&lt;" + name + "&gt;"
	i := strings.Index(s, open)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(open):]
	j := strings.Index(rest, "&lt;/"+name+"&gt;")
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// taskActor accepts and closes the dialogs offered, as the agents.
func (r *runner) taskActor() {
	defer r.taskWorkers.Done()
	for {
		var a taskAction
		select {
		case a = <-r.taskActions:
		case <-r.taskStop:
			return
		}
		for _, action := range []string{"ACCEPT", "CLOSE"} {
			req, err := r.userRequest(r.ctx, http.MethodPut, a.user, "/finesse/api/Dialog/"+url.PathEscape(a.dialog),
				`<Dialog><requestedAction>`+action+`</requestedAction></Dialog>`)
			if err != nil {
				r.noteError("task " + action + ": " + err.Error())
				break
			}
			status, body, err := doHTTP(r.httpClient, req)
			if err != nil || status/100 != 2 {
				r.noteError(fmt.Sprintf("task %s: HTTP %d %v %s", action, status, err, firstLine(body)))
				break
			}
		}
	}
}
