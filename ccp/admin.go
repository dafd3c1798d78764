package ccp

import (
	"net/http"
)

// getFeeds serves GET /ccp-webapp/ccp/feed: every task feed. The list's
// query parameters (summary=false…) change nothing: each feed is always
// given in full.
func (a *API) getFeeds(w http.ResponseWriter, r *http.Request) {
	base := origin(r)
	feeds := a.cfg.Directory.Feeds()
	var d xmlDoc
	if len(feeds) == 0 {
		d.elem("feeds", "")
	} else {
		d.open("feeds")
		for _, f := range feeds {
			appendFeed(&d, f, base)
		}
		d.close("feeds")
	}
	writeXML(w, d.b)
}

// getFeed serves GET /ccp-webapp/ccp/feed/{id}.
func (a *API) getFeed(w http.ResponseWriter, r *http.Request) {
	f, ok := a.feed(r.PathValue("id"))
	if !ok {
		writeError(w, notFound("feed", r.PathValue("id")))
		return
	}
	var d xmlDoc
	appendFeed(&d, f, origin(r))
	writeXML(w, d.b)
}

// getCampaigns serves GET /ccp-webapp/ccp/campaign: every campaign.
func (a *API) getCampaigns(w http.ResponseWriter, r *http.Request) {
	base := origin(r)
	campaigns := a.cfg.Directory.Campaigns()
	feeds := a.cfg.Directory.Feeds()
	var d xmlDoc
	if len(campaigns) == 0 {
		d.elem("campaigns", "")
	} else {
		d.open("campaigns")
		for _, c := range campaigns {
			appendCampaign(&d, c, feeds, base)
		}
		d.close("campaigns")
	}
	writeXML(w, d.b)
}

// getCampaign serves GET /ccp-webapp/ccp/campaign/{publicId}; the public
// id is matched exactly, as the campaign's node name carries it.
func (a *API) getCampaign(w http.ResponseWriter, r *http.Request) {
	c, ok := a.cfg.Directory.Campaign(r.PathValue("publicId"))
	if !ok {
		writeError(w, notFound("campaign", r.PathValue("publicId")))
		return
	}
	var d xmlDoc
	appendCampaign(&d, c, a.cfg.Directory.Feeds(), origin(r))
	writeXML(w, d.b)
}

// getSocialContact serves GET /ccp-webapp/ccp/socialcontact/{id}: the
// contact as its last notification carried it, with refURL under the
// request's own origin. It keeps working after the task's poll URL has
// expired or been cancelled, until the contact's retention ends.
func (a *API) getSocialContact(w http.ResponseWriter, r *http.Request) {
	doc, ok := a.cfg.Contacts.socialContact(contactID(r), origin(r))
	if !ok {
		writeError(w, notFound("social contact", r.PathValue("id")))
		return
	}
	writeXML(w, doc)
}
