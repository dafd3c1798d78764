// Package ccp is the stand-in's Customer Collaboration Platform (CCP): the
// Task API a third-party multichannel application submits non-voice tasks
// to, the contacts those tasks become, and the read-only CCP
// administration calls that name the task feeds and campaigns.
//
// Its one job is the CCP side of task routing (FINESSE-REFERENCE §6):
//
//   - The Task API (not authenticated): POST or GET
//     /ccp[/rest]/task/feed/<feedId> validates a <Task> (or its URL
//     parameters), makes a contact and hands the task to the Router;
//     GET /ccp[/rest]/task/contact/<id> polls it and DELETE cancels it
//     while it is unread or queued.
//   - Contacts: Contacts keeps every contact, bounded in number, with its
//     status (unread, queued, reserved, handled, discarded). It is the
//     router's ContactObserver: each status change renders the contact's
//     <SocialContact> once and publishes it on the campaign's node,
//     ccp.campaign.updates.<campaignPublicId>, in the order of the changes.
//   - Administration (administrators only): GET /ccp-webapp/ccp/feed,
//     /ccp-webapp/ccp/campaign and /ccp-webapp/ccp/socialcontact/<id>, in
//     the shapes CCP's documentation shows.
//
// It makes no routing decision: which agent gets a task, queues and offers
// are the Router's (finesse/task). The Router reports back through the
// ContactObserver methods of Contacts.
package ccp
