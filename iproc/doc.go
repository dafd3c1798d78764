// Package iproc is the Interaction Processor service: the JSON
// request/response/event protocol integration platforms use to reach a
// contact centre, served over a WebSocket on the REST listener
// (/interaction-processor), so that an integration can be developed and
// load-tested against the agents, teams and states the Finesse side shows.
//
// A request is {"command": …, "data": {…}}; a response repeats the command
// and carries result (success, failure or confirm) with resource, data,
// message, failure {code, message, context} and original (the request
// echoed) as the specification has them; an event is {"name": …,
// "data": {…}}. The commands:
//
//   - getServiceDescriptor: the service descriptor (vendor, version,
//     cti-vendor, cti-version, instance-domain), also sent as the
//     service.descriptor event when a connection opens;
//   - prepareSession: authenticates an agent against the directory and
//     gives the connection a session. When another connection holds one
//     for the same agent the answer is confirm, or with override the other
//     session is destroyed (session.destroyed, then that connection is
//     closed). Every other command but getServiceDescriptor needs a
//     session (no_session);
//   - getCapabilities: what this service does;
//   - report.calljourney: a call's routing history (CallJourneys);
//   - report.teamstatus.begin and .end: a stream of an agent's team, its
//     members and their statuses (teamadded), then memberstatuschanged for
//     each voice state change (Agents) and memberadded, memberremoved,
//     teamchanged, teamremoved when the directory is reloaded
//     (DirectoryChanged).
//
// The service knows the agent registry and the task router only through
// the Agents and CallJourneys interfaces, which the app adapts.
//
// # Fan-out and bounds
//
// A state change is rendered once, whatever the number of streams that
// show it: a team status event is queued as three byte slices, its head
// and tail shared by every stream and, between them, the stream's own
// agentId, encoded once when the stream began. Each connection has a
// bounded queue drained by its writer goroutine; a client that lets it
// overflow is disconnected (close code 1008), logged and counted. A
// message over MaxFrameBytes is dropped and answered with
// frame_too_large, keeping the connection; connections are bounded by
// MaxConnections, streams per connection by MaxStreams.
//
// Agent states are read (Agents.State) without the service's lock held,
// because the registry calls back (Subscribe) with its own locks held: a
// stream whose member list is being read is put on hold, and the changes
// that arrive meanwhile are sent after the list, so that a client always
// sees the list first and every later change in order.
//
// gorilla/websocket is known to ws_gorilla.go alone, behind wsConn.
package iproc
