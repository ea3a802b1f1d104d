// Campaigns: each one's phase and deadline (counting down), entering ideas, the ballot of its kind (approval
// picks, a budget with a running total, up/down votes or "which is better?"), the finalists and the results.
import { friendly } from "./api.js";
import { compareView } from "./compare.js";
import { announce, formatDate, h, replace, uid } from "./dom.js";
import { BALLOT, CAMPAIGN, CAMPAIGNS } from "./queries.js";
import { statusBadge, voteGroup } from "./widgets.js";

const PHASES = [
  ["SCHEDULED", "Coming soon"], ["SUBMISSION", "Taking ideas"], ["SHORTLIST", "Picking finalists"],
  ["VOTING", "Voting"], ["CLOSED", "Closed"],
];
const PHASE_WORDS = Object.fromEntries(PHASES);
/** What ends each phase, and the date it is due (null: the team moves it on by hand). */
const DEADLINE = {
  SCHEDULED: ["Opens for ideas", "submissionStartsAt"],
  SUBMISSION: ["Entries close", "submissionEndsAt"],
  SHORTLIST: ["Voting opens", "votingStartsAt"],
  VOTING: ["Voting closes", "votingEndsAt"],
};
const POLL_MS = 5_000; // a passed deadline or uncounted results: the workers catch up within a minute

let many = false; // the board has several campaigns: a campaign offers a way back to their list

export function campaignView(app, root, id) {
  let campaign = null;
  let entries = [];
  let more = null; // the cursor of the next page of entries, if any
  let ticker = 0;
  let poller = 0;
  let pairs = null; // the "which is better?" part of a PAIRWISE campaign

  function stop() {
    clearInterval(ticker);
    clearTimeout(poller);
    poller = 0;
    pairs?.leave?.();
    pairs = null;
  }

  async function load() {
    if (id) return loadOne();
    const data = await app.run(() => app.api.request(CAMPAIGNS, { workspace: app.workspace, slug: app.slug }),
      "Loading the campaigns", load);
    if (!data) return;
    const list = data.board?.campaigns.edges.map((e) => e.node) ?? [];
    many = list.length > 1;
    if (list.length === 1) {
      id = list[0].id;
      return loadOne();
    }
    stop();
    replace(root, h("section", { class: "ie-campaigns", "aria-labelledby": "ie-campaigns-heading" },
      h("h2", { id: "ie-campaigns-heading" }, "Campaigns"),
      list.length ? h("ul", { class: "ie-ideas" }, list.map(card))
        : h("p", { class: "ie-empty" }, "This board runs no campaign right now.")));
    ticker = setInterval(tick, 1000);
  }

  function card(c) {
    return h("li", { class: "ie-idea ie-campaign-card" }, h("div", { class: "ie-idea-main" },
      h("h3", {}, h("button", { type: "button", class: "ie-title", onclick: () => app.open("campaign", c.id) },
        c.title)),
      h("p", { class: "ie-meta" }, h("span", { class: "ie-badge" }, PHASE_WORDS[c.phase]),
        h("span", {}, ballotWords(c))),
      deadline(c)));
  }

  async function loadOne(after = null) {
    const data = await app.run(() => app.api.request(CAMPAIGN, { id, after }), "Loading the campaign",
      () => loadOne(after));
    if (!data) return;
    if (!data.node) {
      replace(root, back(), h("h2", {}, "This campaign is not available"), h("p", {}, "It may have been removed."));
      return;
    }
    const before = campaign;
    campaign = data.node;
    const page = campaign.ideas.edges.map((e) => e.node);
    entries = after ? [...entries, ...page] : page;
    more = campaign.ideas.pageInfo.hasNextPage ? campaign.ideas.pageInfo.endCursor : null;
    if (before && before.phase !== campaign.phase) {
      announce(`“${campaign.title}” is now ${PHASE_WORDS[campaign.phase].toLowerCase()}.`);
    }
    render();
  }

  const back = () => many && h("button", { type: "button", class: "ie-back", onclick: () => app.open("campaign") },
    "← All campaigns");

  function render() {
    stop();
    const c = campaign;
    const focused = root.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    replace(root, h("section", { class: "ie-campaign", "aria-labelledby": "ie-campaign-title" },
      back(),
      h("h2", { id: "ie-campaign-title" }, c.title),
      c.description && h("p", { class: "ie-body" }, c.description),
      h("ol", { class: "ie-phases", "aria-label": "Phases" }, PHASES.map(([phase, words], n) => {
        const at = PHASES.findIndex(([p]) => p === c.phase);
        return h("li", { class: n < at ? "ie-done" : n === at ? "ie-now" : "", "aria-current": n === at && "step" },
          n < at && h("span", { class: "ie-sr" }, "done: "), words);
      })),
      h("p", { class: "ie-meta" }, ballotWords(c)),
      deadline(c),
      body(c)));
    if (focused) root.querySelector(`[data-action="${focused}"]`)?.focus();
    ticker = setInterval(tick, 1000);
    if (overdue(c) || (c.phase === "CLOSED" && !c.results.length)) poller = setTimeout(() => loadOne(), POLL_MS);
  }

  /** What a visitor can do in this phase. */
  function body(c) {
    const finalists = c.finalists.length > 0;
    if (c.phase === "SCHEDULED") return h("p", { class: "ie-note" }, "Ideas can be entered once it opens.");
    if (c.phase === "SUBMISSION") {
      return [h("button", { type: "button", class: "ie-primary", "data-action": "enter",
        onclick: () => app.open("submit", c) }, "Enter an idea"), entryList("Entries", entries)];
    }
    if (c.phase === "SHORTLIST") {
      return finalists ? entryList("Finalists", c.finalists)
        : [h("p", { class: "ie-note" }, "Entries are closed: the team is picking the finalists."),
          entryList("Entries", entries)];
    }
    if (c.phase === "CLOSED") return results(c);
    return [!app.signedIn() && h("p", { class: "ie-note" }, "Sign in to the site to vote."), ballot(c, finalists)];
  }

  /** VOTING: the ballot of the campaign's kind, on the finalists if any were picked. */
  function ballot(c, finalists) {
    const candidates = finalists ? c.finalists : entries;
    const heading = finalists ? "The finalists" : "The entries";
    if (c.ballot === "APPROVAL" || c.ballot === "BUDGET") return ballotForm(c, candidates, heading);
    if (c.ballot === "VOTES") {
      return h("section", { "aria-labelledby": "ie-ballot-heading" },
        h("h3", { id: "ie-ballot-heading" }, `${heading}: vote for the ones you want`),
        h("ol", { class: "ie-ideas" }, candidates.map(voteRow)));
    }
    const slot = h("div", { class: "ie-pairs" });
    pairs = compareView(app, slot, c);
    return [finalists && entryList("Finalists", c.finalists), slot];
  }

  /** An entry with its up and down votes; a vote redraws its row alone, the keyboard staying where it was. */
  function voteRow(idea) {
    const row = h("li", { class: "ie-idea" }, voteGroup(app, idea, (changed) => {
      const focused = row.contains(document.activeElement) ? document.activeElement.dataset.action : null;
      const fresh = voteRow({ ...idea, ...changed });
      row.replaceWith(fresh);
      if (focused) fresh.querySelector(`[data-action="${focused}"]`)?.focus();
    }), h("div", { class: "ie-idea-main" }, entryTitle(idea)));
    return row;
  }

  function entryTitle(idea) {
    return h("h4", {}, h("button", { type: "button", class: "ie-title", onclick: () => app.open("idea", idea.id) },
      idea.title));
  }

  function entryList(title, list) {
    const headingId = uid("ie-entries");
    return h("section", { class: "ie-entries", "aria-labelledby": headingId },
      h("h3", { id: headingId }, `${title} (${list.length}${title === "Entries" && more ? "+" : ""})`),
      list.length ? h("ul", { class: "ie-ideas" }, list.map((idea) => h("li", { class: "ie-idea" },
        h("div", { class: "ie-idea-main" }, entryTitle(idea),
          h("p", { class: "ie-meta" }, statusBadge(app, idea.status),
            idea.cost !== null && h("span", {}, `Cost ${money(campaign, idea.cost)}`))))))
        : h("p", { class: "ie-muted" }, "None yet."),
      title === "Entries" && more && h("button", { type: "button", class: "ie-more", onclick: () => loadOne(more) },
        "More entries"));
  }

  /**
   * APPROVAL and BUDGET: tick the candidates, with a running count or total; a pick over the limit is refused
   * here, before the API would, and the API's own refusal still shows beside the ballot.
   */
  function ballotForm(c, candidates, heading) {
    const budget = c.ballot === "BUDGET";
    const saved = new Set(c.viewerBallot.map((idea) => idea.id));
    const tallyId = uid("ie-tally");
    const errorId = uid("ie-ballot-error");
    const error = h("p", { class: "ie-error", id: errorId, role: "alert", tabindex: "-1", hidden: true });
    const tally = h("p", { class: "ie-tally", id: tallyId, role: "status" });
    const meter = budget && h("meter", { min: 0, max: c.budget, value: 0, "aria-labelledby": tallyId });
    const boxes = candidates.map((idea) => h("input", {
      type: "checkbox", name: "ideaIds", value: idea.id, id: `ie-pick-${idea.id}`, checked: saved.has(idea.id),
      "aria-describedby": `${tallyId} ${errorId}`, "data-action": `pick-${idea.id}`,
      onchange: (e) => pick(e.target, idea),
    }));
    const costOf = new Map(candidates.map((idea) => [idea.id, idea.cost]));
    const picked = () => boxes.filter((box) => box.checked).map((box) => box.value);
    const spent = (ids) => ids.reduce((sum, ideaId) => sum + (costOf.get(ideaId) ?? 0), 0);
    const withdraw = h("button", { type: "button", "data-action": "withdraw", hidden: !saved.size,
      onclick: () => cast([]) }, "Withdraw my ballot");
    const submit = h("button", { type: "submit", class: "ie-primary", "data-action": "cast" },
      saved.size ? "Update my ballot" : "Cast my ballot");

    function say(message) {
      replace(error, message);
      error.hidden = !message;
    }

    function showTally() {
      const ids = picked();
      const same = ids.length === saved.size && ids.every((ideaId) => saved.has(ideaId));
      const state = same ? (saved.size ? " Your ballot is in." : "") : " Not cast yet.";
      if (budget) {
        const total = spent(ids);
        meter.value = total;
        replace(tally, `${money(c, total)} of ${money(c, c.budget)} spent, ${money(c, c.budget - total)} left.${state}`);
      } else {
        const of = c.maxChoices ? ` of ${c.maxChoices}` : "";
        replace(tally, `${ids.length}${of} picked.${state}`);
      }
    }

    function pick(box, idea) {
      say("");
      if (box.checked) {
        const refusal = refuse(idea);
        if (refusal) {
          box.checked = false;
          say(refusal);
        }
      }
      showTally();
    }

    /** Why this pick would break the ballot's rule, in the words a voter needs; null if it fits. */
    function refuse(idea) {
      const ids = picked();
      if (!budget) {
        return c.maxChoices && ids.length > c.maxChoices
          ? `You can pick up to ${c.maxChoices}. Take one off before adding “${idea.title}”.` : null;
      }
      if (idea.cost === null) return `“${idea.title}” has no cost yet, so it cannot be funded.`;
      const total = spent(ids);
      return total > c.budget
        ? `“${idea.title}” costs ${money(c, idea.cost)}: your picks would come to ${money(c, total)}, over the `
          + `${money(c, c.budget)} budget. Take something off first.`
        : null;
    }

    async function cast(ids) {
      say("");
      const input = { campaignId: c.id, ideaIds: ids };
      const data = await app.run(() => app.api.request(BALLOT, { input }), "Casting your ballot", () => cast(ids));
      if (!data) return;
      const { campaign: updated, userErrors } = data.castBallot;
      if (userErrors.length) {
        say(friendly(userErrors[0]));
        error.focus();
        return;
      }
      announce(ids.length ? "Your ballot is in. You can change it until voting closes." : "Your ballot was withdrawn.");
      campaign = { ...campaign, viewerBallot: updated.viewerBallot };
      render();
    }

    const rule = budget
      ? `Pick what you would fund: up to ${money(c, c.budget)} in all.`
      : c.maxChoices ? `Pick up to ${c.maxChoices}.` : "Pick as many as you like.";
    const form = h("form", { class: "ie-ballot", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      cast(picked());
    } },
    h("fieldset", {},
      h("legend", {}, h("strong", {}, heading), ` · ${rule}`),
      h("ul", { class: "ie-picks" }, candidates.map((idea, n) => h("li", {},
        boxes[n],
        h("label", { for: boxes[n].id }, idea.title,
          budget && h("span", { class: "ie-cost" }, idea.cost === null ? "no cost yet" : money(c, idea.cost))),
        h("button", { type: "button", class: "ie-link", onclick: () => app.open("idea", idea.id) },
          h("span", { "aria-hidden": "true" }, "Details"),
          h("span", { class: "ie-sr" }, `Details of “${idea.title}”`))))),
    meter, tally, error),
    h("div", { class: "ie-actions" }, submit, withdraw));
    showTally();
    return form;
  }

  function results(c) {
    if (!c.results.length) {
      return h("p", { class: "ie-note", role: "status" }, "Voting is over: the results are being counted…");
    }
    const budget = c.ballot === "BUDGET";
    return h("section", { class: "ie-results", "aria-labelledby": "ie-results-heading" },
      h("h3", { id: "ie-results-heading" }, "Results"),
      h("ol", { class: "ie-ideas" }, c.results.map((r) => h("li", { class: `ie-idea${r.winner ? " ie-winner" : ""}` },
        h("span", { class: "ie-rank" }, h("span", { class: "ie-sr" }, "Rank "), String(r.rank)),
        h("div", { class: "ie-idea-main" }, entryTitle(r.idea),
          h("p", { class: "ie-meta" },
            r.winner && h("span", { class: "ie-badge ie-status-launched" }, budget ? "Funded" : "Winner"),
            h("span", {}, support(c, r.support)),
            r.cost !== null && h("span", {}, `Cost ${money(c, r.cost)}`)))))));
  }

  /** Count the deadline down in the texts `deadline` drew (role=timer: read when asked, never interrupting). */
  function tick() {
    for (const el of root.querySelectorAll("[data-due]")) replace(el, countdown(el.dataset.due));
    if (campaign && !poller && overdue(campaign)) poller = setTimeout(() => loadOne(), POLL_MS);
  }

  const ready = load();
  return {
    ready,
    refresh: () => load(),
    leave: stop,
    event(event) {
      if (event.__typename !== "CampaignPhaseChangedEvent") return;
      if (!id || event.campaign.id === id) load();
    },
  };
}

function deadline(c) {
  if (c.phase === "CLOSED") {
    // Closed by hand before its date, the campaign did not close then: the API says when only through the date.
    const ended = c.votingEndsAt && Date.parse(c.votingEndsAt) <= Date.now();
    return h("p", { class: "ie-deadline" }, "Voting is over",
      ended ? [" since ", h("time", { datetime: c.votingEndsAt }, formatDate(c.votingEndsAt))] : "", ".");
  }
  const [what, key] = DEADLINE[c.phase];
  const due = c[key];
  if (!due) return h("p", { class: "ie-deadline" }, `${what} when the team moves it on; no date is set.`);
  return h("p", { class: "ie-deadline" }, `${what} `, h("time", { datetime: due }, formatDate(due)), " (",
    h("span", { role: "timer", "data-due": due }, countdown(due)), ")");
}

function overdue(c) {
  const due = DEADLINE[c.phase] && c[DEADLINE[c.phase][1]];
  return Boolean(due) && Date.parse(due) <= Date.now();
}

/** "in 3 days 4 hours", down to "in 12 seconds"; then "any moment now" until the workers move it on. */
function countdown(iso) {
  let left = Math.floor((Date.parse(iso) - Date.now()) / 1000);
  if (left <= 0) return "any moment now";
  const units = [["day", 86_400], ["hour", 3_600], ["minute", 60], ["second", 1]];
  const parts = [];
  for (const [unit, size] of units) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n || parts.length) parts.push(`${n} ${unit}${n === 1 ? "" : "s"}`);
    if (parts.length === 2) break;
  }
  return `in ${parts.join(" ")}`;
}

function ballotWords(c) {
  switch (c.ballot) {
    case "APPROVAL":
      return `Approval vote: each voter picks ${c.maxChoices ? `up to ${c.maxChoices}` : "any number"}`;
    case "BUDGET":
      return `Participatory budget of ${money(c, c.budget)}`;
    case "PAIRWISE":
      return "Decided by which-is-better comparisons";
    default:
      return "Decided by up and down votes";
  }
}

function support(c, value) {
  switch (c.ballot) {
    case "APPROVAL":
      return value === 1 ? "1 approval" : `${value} approvals`;
    case "BUDGET":
      return value === 1 ? "on 1 ballot" : `on ${value} ballots`;
    case "PAIRWISE":
      return `strength ${value.toFixed(2)}`;
    default:
      return `score ${Math.round(value * 100)}%`;
  }
}

const moneyFormats = new Map();
/** An amount in the campaign's currency (a plain number when it names none, or one the browser does not know). */
function money(c, amount) {
  const key = c.currency ?? "";
  if (!moneyFormats.has(key)) {
    let format;
    try {
      format = new Intl.NumberFormat(undefined, key
        ? { style: "currency", currency: key, minimumFractionDigits: 0, maximumFractionDigits: 2 }
        : { maximumFractionDigits: 2 });
    } catch {
      format = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
    }
    moneyFormats.set(key, format);
  }
  return moneyFormats.get(key).format(amount);
}
