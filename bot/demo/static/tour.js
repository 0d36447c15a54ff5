// "What to try": a short guided tour, written for the demo's cast and its chain timings.

import { h } from "./blocks.js";

export function tour(info) {
  const name = (role) => (info.people.find((p) => p.role.startsWith(role)) || { name: role }).name;
  const wait = seconds(info.first_dm);
  const expiry = seconds(info.expiry);
  const steps = [
    `As ${name("reviewer")}, open #payments and approve the EUR 120 refund. The card updates and the agent's execution result appears in its thread.`,
    `Click Edit on a refund, enter 0 as the amount and submit: the field error comes back. Fix it and approve your edit.`,
    `Switch to ${name("requester")} and try to approve a refund: nobody approves a request made on their behalf.`,
    `The EUR 2,400 refund needs two different approvers: approve as ${name("reviewer")}, then as ${name("second reviewer")}.`,
    `In #approvals, edit the email draft before it is sent, or ask the agent a question on the account merge (it answers in the thread), or take it over.`,
    `Switch to ${name("on-call")}: unanswered requests arrive as DMs after ${wait}, then go to ${name("reviewer")} after ${seconds(info.second_dm)}. After ${expiry} they expire, which is a denial: nothing runs.`,
    `${name("outsider")} can see the cards but cannot decide. Each reviewer's queue is in the App Home.`,
  ];
  return [
    h("summary", {}, "What to try"),
    h("ol", { class: "tour-steps" }, steps.map((s) => h("li", {}, s))),
    h("p", { class: "tour-note" }, "Every click is a signed request to the real bot; #agent-log shows what the agent did."),
  ];
}

function seconds(n) {
  if (n < 60) return `${n} seconds`;
  const m = Math.floor(n / 60);
  const s = n % 60;
  return `${m} min${s ? ` ${s} s` : ""}`;
}
