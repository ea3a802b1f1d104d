// "Which is better?": pairs from pairwiseMatchup, one verdict at a time, until the viewer has seen enough; the
// board's ideas, or (inside a PAIRWISE campaign's view) the campaign's candidates.
import { friendly } from "./api.js";
import { announce, h, replace } from "./dom.js";
import { COMPARE, MATCHUP } from "./queries.js";

// After this many verdicts in a visit the ranking has what it needs from one person; more are welcome.
const ENOUGH = 10;

let judged = 0; // verdicts this visit (kept when switching views)

export function compareView(app, root, campaign = null) {
  let pair = null;
  const things = campaign ? "entries" : "ideas";
  const error = h("p", { class: "ie-error", role: "alert", hidden: true });
  const progress = h("p", { class: "ie-progress", "aria-live": "polite" });
  const stage = h("div", { class: "ie-pair" });

  replace(root, h("section", { class: "ie-compare", "aria-labelledby": "ie-compare-heading" },
    h(campaign ? "h3" : "h2", { id: "ie-compare-heading" }, "Which is better?"),
    h("p", {}, campaign ? "Pick the entry you prefer. Each choice is a vote in the campaign."
      : "Pick the idea you would rather see built. Each choice makes the ranking fairer."),
    progress, error, stage));

  async function next(given) {
    let matchup = given;
    if (matchup === undefined) {
      const variables = { boardId: app.board.id, campaignId: campaign?.id ?? null };
      const data = await app.run(() => app.api.request(MATCHUP, variables), `Finding two ${things}`, () => next());
      if (!data) return;
      matchup = data.pairwiseMatchup;
    }
    pair = matchup;
    render();
  }

  function render() {
    replace(progress, judged >= ENOUGH
      ? `You have compared ${judged} pairs: that is plenty, thank you! Go on if you like.`
      : `${judged} of ${ENOUGH} comparisons`);
    if (!pair) {
      replace(stage, h("p", {}, `There are not two open ${things} to compare right now.`));
      return;
    }
    const card = (winner, loser) => h("button", { type: "button", class: "ie-choice", onclick: () => choose(winner, loser) },
      h("strong", {}, winner.title), winner.body && h("span", { class: "ie-excerpt" }, excerpt(winner.body)));
    replace(stage, card(pair.left, pair.right), h("span", { class: "ie-or", "aria-hidden": "true" }, "or"),
      card(pair.right, pair.left),
      h("button", { type: "button", class: "ie-skip", onclick: () => next() }, "Skip this pair"),
      judged >= ENOUGH && h("button", { type: "button", class: "ie-link", onclick: () => app.open("list") },
        "See the ideas"));
  }

  async function choose(winner, loser) {
    error.hidden = true;
    const input = { winnerId: winner.id, loserId: loser.id };
    const data = await app.run(() => app.api.request(COMPARE, { input }), "Comparing", () => choose(winner, loser));
    if (!data) return;
    const { userErrors, next: following } = data.compareIdeas;
    if (userErrors.length) {
      replace(error, friendly(userErrors[0]));
      error.hidden = false;
      return;
    }
    judged += 1;
    announce(`You chose “${winner.title}”.${judged === ENOUGH ? " That is enough to count, thank you!" : ""}`);
    await next(campaign ? undefined : following); // the payload's next pair is the board's, not the campaign's
    stage.querySelector(".ie-choice")?.focus();
  }

  const excerpt = (text) => (text.length > 140 ? `${text.slice(0, 140)}…` : text);
  const ready = app.board ? next() : Promise.resolve(replace(stage, h("p", {}, "Loading…")));
  return { ready, refresh: () => next() };
}
