// Pieces more than one view shows: status badges, vote buttons, interval bars and userErrors beside fields.
import { friendly } from "./api.js";
import { announce, h, replace } from "./dom.js";
import { VOTE } from "./queries.js";

export const OPEN = new Set(["SUBMITTED", "UNDER_REVIEW", "PLANNED", "IN_PROGRESS"]);

export function statusBadge(app, status) {
  return h("span", { class: `ie-badge ie-status-${status.toLowerCase()}` }, app.label(status));
}

/** Up and down buttons with the tally; pressing the pressed one withdraws the vote. */
export function voteGroup(app, idea, onUpdated) {
  const error = h("p", { class: "ie-error", role: "alert", hidden: true });
  const closed = !OPEN.has(idea.status);
  const button = (value, symbol, count, words) =>
    h("button", {
      type: "button",
      class: `ie-vote-${value.toLowerCase()}`,
      "aria-pressed": String(idea.viewerVote === value),
      "data-action": `vote-${value}`,
      disabled: closed,
      title: closed ? "This idea no longer takes votes." : words,
      onclick: () => cast(value),
    }, h("span", { class: "ie-sr" }, `${words} “${idea.title}”, votes so far: `),
    h("span", { "aria-hidden": "true" }, `${symbol} `), h("span", { class: "ie-n" }, String(count)));
  const group = h("div", { class: "ie-vote", role: "group", "aria-label": "Your vote" },
    button("UP", "▲", idea.votes.up, "Vote for"), button("DOWN", "▼", idea.votes.down, "Vote against"), error);

  async function cast(value) {
    const next = idea.viewerVote === value ? null : value;
    const data = await app.run(() => app.api.request(VOTE, { input: { ideaId: idea.id, value: next } }), "Voting", () => cast(value));
    if (!data) return;
    const { idea: updated, userErrors } = data.vote;
    if (userErrors.length) {
      replace(error, friendly(userErrors[0]));
      error.hidden = false;
      return;
    }
    announce(next === null ? "Vote withdrawn." : next === "UP" ? "You voted for it." : "You voted against it.");
    onUpdated(updated);
  }
  return group;
}

/** The board-wide scale of the Bradley-Terry intervals shown together, so the bars compare. */
export function intervalScale(ideas) {
  const scored = ideas.filter((idea) => idea.score.comparisons > 0);
  if (!scored.length) return null;
  const min = Math.min(...scored.map((idea) => idea.score.bradleyTerryLow));
  const max = Math.max(...scored.map((idea) => idea.score.bradleyTerryHigh));
  return { min, span: Math.max(max - min, 1e-9) };
}

/** The 95% interval of an idea's pairwise strength as a bar, with its words for screen readers. */
export function intervalBar(idea, scale) {
  const { bradleyTerry: mid, bradleyTerryLow: low, bradleyTerryHigh: high, comparisons } = idea.score;
  if (!scale || comparisons === 0) return h("p", { class: "ie-interval-none" }, "Not compared yet");
  const pct = (x) => `${(((x - scale.min) / scale.span) * 100).toFixed(2)}%`;
  const words = `Strength ${mid.toFixed(2)}, 95% interval ${low.toFixed(2)} to ${high.toFixed(2)}, `
    + `from ${comparisons} comparison${comparisons === 1 ? "" : "s"}`;
  const bar = h("span", { class: "ie-interval-range" });
  bar.style.left = pct(low);
  bar.style.width = `${(((high - low) / scale.span) * 100).toFixed(2)}%`;
  const point = h("span", { class: "ie-interval-point" });
  point.style.left = pct(mid);
  return h("div", { class: "ie-interval", role: "img", "aria-label": words, title: words }, bar, point);
}

/** Put each userError beside its field (`[data-error-for=name]`), in plain words; the first field gets focus. */
export function showErrors(form, userErrors) {
  clearErrors(form);
  let first = null;
  for (const error of userErrors) {
    const name = error.field[error.field.length - 1] ?? "_form";
    const slot = form.querySelector(`[data-error-for="${name}"]`) ?? form.querySelector('[data-error-for="_form"]');
    replace(slot, friendly(error));
    slot.hidden = false;
    const input = form.elements.namedItem(name);
    if (input instanceof HTMLElement) {
      input.setAttribute("aria-invalid", "true");
      first ??= input;
    }
  }
  (first ?? form.querySelector('[data-error-for="_form"]'))?.focus?.();
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    slot.hidden = true;
    slot.replaceChildren();
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/** A labelled field with its error slot, tied together by aria-describedby. */
export function field(label, name, control, hint = null) {
  const id = `ie-field-${name}`;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  control.id = id;
  control.name = name;
  control.setAttribute("aria-describedby", [hintId, errorId].filter(Boolean).join(" "));
  return h("div", { class: "ie-field" },
    h("label", { for: id }, label),
    hint && h("p", { class: "ie-hint", id: hintId }, hint),
    control,
    h("p", { class: "ie-error", id: errorId, "data-error-for": name, hidden: true }));
}
