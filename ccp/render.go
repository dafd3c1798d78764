package ccp

import (
	"strconv"
	"strings"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/task"
)

// Paths of the documents' URLs.
const (
	socialContactPath = "/ccp-webapp/ccp/socialcontact/"
	feedPath          = "/ccp-webapp/ccp/feed"
	campaignPath      = "/ccp-webapp/ccp/campaign"
	pushFeedPath      = "/ccp/rest/task/feed/"
)

// socialContact renders the contact as CCP publishes it on
// ccp.campaign.updates.<campaign> and answers the Social Contact GET: the
// children in alphabetical order, as in the seed's captures.
//
//	<SocialContact><author/><campaignPublicId/><chatIsInvited>false</chatIsInvited>
//	  [<description/>]<extensionFields><extensionField><name/><value/></extensionField>…</extensionFields>
//	  <id/><publishedDate/><refURL/><sourceType>task</sourceType><status/><statusReason/>
//	  <statusTimestamp/><statusUserId/><tags><tag/>…</tags><title/></SocialContact>
//
// The root carries no namespace: the document travels as the text of
// <notification xmlns='http://jabber.org/protocol/pubsub'>, and a client
// that parses that text in place sees it in the pubsub namespace, as CCP's
// documented sample shows it.
func (ct *contact) socialContact(origin string) []byte {
	d := xmlDoc{b: make([]byte, 0, 1024)}
	d.open("SocialContact")
	d.elem("author", ct.name)
	d.elem("campaignPublicId", ct.campaign)
	d.elem("chatIsInvited", "false")
	if ct.description != "" {
		d.elem("description", ct.description)
	}
	ct.appendExtensionFields(&d)
	d.elem("id", ct.id)
	d.elemInt("publishedDate", ct.published.UnixMilli())
	d.elem("refURL", origin+socialContactPath+ct.id)
	d.elem("sourceType", "task")
	d.elem("status", ct.status.String())
	d.elem("statusReason", ct.reason)
	d.elemInt("statusTimestamp", ct.statusAt.UnixMilli())
	d.elem("statusUserId", ct.statusUser)
	d.list("tags", "tag", ct.tags)
	d.elem("title", ct.title)
	d.close("SocialContact")
	return d.b
}

// appendExtensionFields writes the contact's extension fields: the script
// selector, the variables in submission order, then what routing added
// (taskID, mrdID, mrdIsInterruptible) once the task was reserved.
func (ct *contact) appendExtensionFields(d *xmlDoc) {
	var fields []task.Variable
	if ct.selector != "" {
		fields = append(fields, task.Variable{Name: "scriptSelector", Value: ct.selector})
	}
	fields = append(fields, ct.variables...)
	if ct.taskID != "" {
		fields = append(fields, task.Variable{Name: "taskID", Value: ct.taskID},
			task.Variable{Name: "mrdID", Value: strconv.Itoa(ct.mrdID)})
		if ct.interruptible != "" {
			fields = append(fields, task.Variable{Name: "mrdIsInterruptible", Value: ct.interruptible})
		}
	}
	if len(fields) == 0 {
		d.elem("extensionFields", "")
		return
	}
	d.open("extensionFields")
	for _, f := range fields {
		d.open("extensionField")
		d.elem("name", f.Name)
		d.elem("value", f.Value)
		d.close("extensionField")
	}
	d.close("extensionFields")
}

// taskStatus renders the Task poll answer, in the order of CCP's
// documented example:
//
//	<Task><estimatedWaitTime>30</estimatedWaitTime><status>QUEUED</status>
//	  <statusReason>EXTERNALLY_ROUTED</statusReason></Task>
//
// The status and reason are in upper case, as that example shows them;
// estimatedWaitTime (seconds, -1 when the router could not estimate) only
// while queued; taskID and agentID only while reserved or once handled.
func (ct *contact) taskStatus() []byte {
	var d xmlDoc
	d.open("Task")
	if ct.status == statusQueued {
		d.elemInt("estimatedWaitTime", waitSeconds(ct.estimatedWait, ct.hasEstimate))
	}
	d.elem("status", strings.ToUpper(ct.status.String()))
	d.elem("statusReason", strings.ToUpper(ct.reason))
	if (ct.status == statusReserved || ct.status == statusHandled) && ct.taskID != "" {
		d.elem("taskID", ct.taskID)
		d.elem("agentID", ct.agentID)
	}
	d.close("Task")
	return d.b
}

// waitSeconds is an estimate in whole seconds, rounded up; -1 when there
// is none or it is negative (the router's "cannot say").
func waitSeconds(d time.Duration, known bool) int64 {
	if !known || d < 0 {
		return -1
	}
	return int64((d + time.Second - 1) / time.Second)
}

// appendFeed renders a task feed as CCP's Feed API shows it:
//
//	<Feed><changeStamp>0</changeStamp><description/><name/>
//	  <pushFeedURL>…/ccp/rest/task/feed/100000</pushFeedURL>
//	  <refURL>…/ccp-webapp/ccp/feed/100000</refURL><status>1</status>
//	  <tags><tag>cisco_uq_tag</tag></tags><type>12</type></Feed>
//
// Type 12 is CCP's task request feed; status 1 is enabled.
func appendFeed(d *xmlDoc, f directory.Feed, origin string) {
	id := strconv.Itoa(f.ID)
	d.open("Feed")
	d.elemInt("changeStamp", 0)
	d.elem("description", f.Description)
	d.elem("name", f.Name)
	d.elem("pushFeedURL", origin+pushFeedPath+id)
	d.elem("refURL", origin+feedPath+"/"+id)
	d.elemInt("status", 1)
	d.list("tags", "tag", f.Tags)
	d.elemInt("type", 12)
	d.close("Feed")
}

// appendCampaign renders a campaign as CCP's Campaign API shows it, with
// the refURLs of the feeds whose tasks join it:
//
//	<Campaign><changeStamp>0</changeStamp><description/><feeds><feed>…/ccp-webapp/ccp/feed/100000</feed></feeds>
//	  <name/><publicId/><refURL/><resultsURL/><suggestedTagsURL/></Campaign>
func appendCampaign(d *xmlDoc, c directory.Campaign, feeds []directory.Feed, origin string) {
	var feedURLs []string
	for _, f := range feeds {
		if f.Campaign == c.PublicID {
			feedURLs = append(feedURLs, origin+feedPath+"/"+strconv.Itoa(f.ID))
		}
	}
	ref := origin + campaignPath + "/" + c.PublicID
	d.open("Campaign")
	d.elemInt("changeStamp", 0)
	d.elem("description", c.Description)
	d.list("feeds", "feed", feedURLs)
	d.elem("name", c.Name)
	d.elem("publicId", c.PublicID)
	d.elem("refURL", ref)
	d.elem("resultsURL", ref+"/results")
	d.elem("suggestedTagsURL", ref+"/suggestedtags")
	d.close("Campaign")
}
